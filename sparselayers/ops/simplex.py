"""Euclidean projection onto the probability simplex, row by row."""

from __future__ import annotations

import torch
from torch import Tensor


def project_simplex(v: Tensor) -> Tensor:
    """Project each row ``v[..., i, :]`` onto ``{x >= 0, sum(x) = 1}``.

    The sort-based algorithm of Held, Wolfe & Crowder (1974) (see also Duchi et al., 2008):
    ``x = (v - tau)_+`` with ``tau`` chosen so that ``x`` sums to one. Exact zeros off the face;
    differentiable almost everywhere (used by the unrolled backward).

    Args:
        v: ``(..., k)``.

    Returns:
        ``(..., k)``.
    """
    k = v.shape[-1]
    u, _ = torch.sort(v, dim=-1, descending=True)
    cumulative = u.cumsum(-1) - 1
    index = torch.arange(1, k + 1, dtype=v.dtype, device=v.device)
    count = (u - cumulative / index > 0).sum(-1, keepdim=True)
    tau = cumulative.gather(-1, count - 1) / count.to(v.dtype)
    return (v - tau).clamp_min(0)
