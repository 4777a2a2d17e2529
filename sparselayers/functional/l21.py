"""The L2,1 norm used as an outer penalty (paper, Problem 62)."""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.ops.prox import group_norm


def l21_norm(weights: Tensor, group_dim: int | None = -2) -> Tensor:
    r"""``Σ_j ||W[:, j]||_2`` per task, with gradient 0 (not NaN) on a zero column.

    Args:
        weights: ``W (..., k, m)``, columns ``j`` are the feature groups; with
            ``group_dim=None``, ``W (..., m)`` (one output) and the norm is ``Σ_j |W_j|``.
        group_dim: the dim holding the ``k`` outputs of a group (default ``-2``).

    Returns:
        ``(...)``.
    """
    if not isinstance(weights, Tensor):
        raise ValueError(f"weights must be a torch.Tensor, got {type(weights).__name__}")
    if group_dim is None:
        return group_norm(weights.unsqueeze(-1)).sum(-1)
    if weights.ndim < 2:
        raise ValueError(f"weights must have shape (..., k, m), got {tuple(weights.shape)}")
    if isinstance(group_dim, bool) or not isinstance(group_dim, int):
        raise ValueError(f"group_dim must be an int or None, got {group_dim!r}")
    if not -weights.ndim <= group_dim < weights.ndim:
        raise ValueError(
            f"group_dim must be in [-{weights.ndim}, {weights.ndim}) for weights of shape "
            f"{tuple(weights.shape)}, got {group_dim}"
        )
    return group_norm(torch.movedim(weights, group_dim, -1)).sum(-1)
