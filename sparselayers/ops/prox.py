"""Proximal operators with gradients that stay finite at the kink.

The paper's code differentiates ``(1 - tau / ||a||)_+ a`` with ``||a||`` computed by
``torch.norm``, whose gradient at ``a = 0`` is ``0/0 = NaN``. Here every norm goes through
:func:`group_norm`, which uses the "double where" trick so that a zero group receives a zero
gradient instead.
"""

from __future__ import annotations

import torch
from torch import Tensor


def group_norm(x: Tensor) -> Tensor:
    """Euclidean norm over the last dimension, with gradient 0 (not NaN) at ``x = 0``.

    Args:
        x: ``(..., m, k)`` — ``m`` groups of ``k`` coordinates.

    Returns:
        ``(..., m)`` — ``||x[..., j, :]||_2``.
    """
    if x.shape[-1] == 1:  # one coordinate per group: |x|, whose gradient at 0 is 0 already
        return x.squeeze(-1).abs()
    squared = (x * x).sum(-1)
    positive = squared > 0
    safe = torch.where(positive, squared, torch.ones_like(squared))
    return torch.where(positive, safe.sqrt(), torch.zeros_like(squared))


def block_soft_threshold(x: Tensor, tau: Tensor) -> Tensor:
    """Block soft-thresholding ``BST(a, tau) = (1 - tau / ||a||)_+ a`` applied to every group.

    It is the proximal operator of ``tau * ||.||_2`` and returns exact zeros for groups with
    ``||a|| <= tau``.

    Args:
        x: ``(..., m, k)`` — ``m`` groups of ``k`` coordinates.
        tau: threshold broadcastable to ``(..., m)`` (usually ``(..., 1)``: one per task).

    Returns:
        ``(..., m, k)``.
    """
    norm = group_norm(x)
    positive = norm > 0
    safe = torch.where(positive, norm, torch.ones_like(norm))
    scale = torch.where(positive, (1 - tau / safe).clamp_min(0), torch.zeros_like(norm))
    return scale.unsqueeze(-1) * x
