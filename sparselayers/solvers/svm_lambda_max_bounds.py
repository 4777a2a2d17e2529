"""Certified bounds on ``lam1_max`` (``solvers/svm_lambda_max.py``), shared by its methods.

Any ``Λ ∈ 𝒞`` (rows on the simplex, zero on the label) gives an upper bound, any ``U`` in the
ℓ_{2,1} ball 𝔹 a lower bound; ``Λ_0``, uniform off the label, is where the methods start.
"""

from __future__ import annotations

import torch
from torch import Tensor


def uniform_off_label(Y: Tensor) -> Tensor:
    """``Λ_0``: mass ``1 / (k - 1)`` on every off-label class."""
    return (1 - Y) / (Y.shape[-1] - 1)


def upper_bound(L: Tensor, F: Tensor, Y: Tensor) -> Tensor:
    """``max_j ||(Y - Λ)^T F_j||`` per task, for ``Λ ∈ 𝒞``."""
    return torch.linalg.vector_norm((Y - L).mT @ F, dim=-2).amax(-1)


def lower_bound(U: Tensor, F: Tensor, Y: Tensor, YtF: Tensor) -> Tensor:
    """``<U, Y^T F> - Σ_i max_{l ≠ y_i} (F U^T)_{il}`` per task, for ``U ∈ 𝔹``."""
    scores = F @ U.mT  # (..., n, k)
    off_label = scores.masked_fill(Y > 0, -torch.inf).amax(-1)
    return (U * YtF).sum((-2, -1)) - off_label.sum(-1)
