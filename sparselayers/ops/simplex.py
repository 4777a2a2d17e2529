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


def project_offsets(V: Tensor, Y: Tensor) -> Tensor:
    """Project each row ``V[..., i, :]`` onto ``{A <= Y_i, sum(A) = 0}`` for one-hot rows ``Y``.

    This is ``A = Y - project_simplex(Y - V)``, computed without forming ``Y - V``: the SVM
    duals iterate on the offsets ``A = Y - Λ`` of their simplex variable ``Λ``, which are of the
    order of ``lam2 / ||F||²`` (``1e-12`` for features scaled by ``1e6``), far below the
    resolution of ``Λ`` near a vertex. The free coordinates (where ``Λ > 0``) are
    ``A = V - t`` and the others ``A = Y``, with ``Σ A = 0``; sorted by ``V - Y``, the first
    ``j`` are free for the largest ``j`` with ``V_(j) - t_j < Y_(j)``, where
    ``t_j = (Σ_{i <= j} V_(i) + [the label is not among them]) / j``: sums of the small
    entries of ``V`` at their own relative precision (``V - Y`` only orders them).
    Differentiable almost everywhere (the unrolled backward differentiates it).

    Args:
        V: ``(..., k)``.
        Y: ``(..., k)`` one-hot rows (broadcastable to ``V``).

    Returns:
        ``(..., k)``, with ``A <= Y`` exactly and exact ``Y`` off the face.
    """
    k = V.shape[-1]
    Y = Y.expand_as(V)
    order = torch.argsort(V - Y, dim=-1)
    V_sorted, Y_sorted = V.gather(-1, order), Y.gather(-1, order)
    index = torch.arange(1, k + 1, dtype=V.dtype, device=V.device)
    t = (V_sorted.cumsum(-1) + (1 - Y_sorted.cumsum(-1))) / index
    count = (V_sorted - t < Y_sorted).sum(-1, keepdim=True).clamp_min(1)
    t = t.gather(-1, count - 1)
    ranks = torch.arange(k, device=V.device).expand(order.shape)
    free = torch.empty_like(order).scatter_(-1, order, ranks) < count  # Λ > 0 there
    return torch.where(free, torch.minimum(V - t, Y), Y)
