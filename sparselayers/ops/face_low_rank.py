"""The low-rank part of the SVM dual's Hessian on the faces of the simplices, in the cheaper of
two forms (a cost model of this machine's CPU picks it).

With ``Λ (..., n, k)`` on the simplices, its face mask and projectors ``P``
(``problems/simplex_faces.py``)
and ``U[(i, a), j] = F_ij u_aj`` for ``F (..., n, s)``, ``u (..., k, s)``, the reduced Hessian
of the feature-form dual needs ``(P U)(P U)^T`` ``(..., nk, nk)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.ops.gather import active_first, take_rows

WRITE_COST = 50
"""Cost of writing one element of a fresh intermediate, in multiply-adds of a matrix product:
one CPU core ran batched float32 products at 46e9 multiply-adds/s and filled fresh tensors
(page faults included) at 0.85e9 elements/s. Picks the form of :func:`low_rank_on_faces`."""


def low_rank_on_faces(mask: Tensor, P: Tensor, F: Tensor, u: Tensor) -> Tensor:
    """``(P U)(P U)^T`` for ``U[(i, a), j] = F_ij u_aj``, the face mask ``(..., n, k)`` of ``Λ``
    and its face projectors ``P (..., n, k, k)``: ``(..., nk, nk)``.

    ``(P U)[(i, a), j] = F_ij (P_i u_j)_a`` vanishes off the faces, so the ``r`` face rows
    ``(i, a)`` suffice (:func:`_low_rank_on_face_rows`: ``r²`` products of length ``s`` and five
    ``(r, s)`` intermediates); but ``U U^T`` is symmetric, so its ``k(k + 1)/2`` upper class
    blocks suffice too (:func:`_low_rank_by_class_blocks`: ``k(k + 1)/2 · n²`` products and one
    ``(k n, s)`` intermediate). The cheaper is taken (:data:`WRITE_COST`): the blocks on 5-shot
    5-way heads, whose faces hold 92-100 of the 125 coordinates (0.4 ms less of 1.7 ms at
    m = 1,600, 1.3 ms less at m = 16,000), the rows on 15-shot heads (180 of 375 coordinates:
    84,000 block products against 32,000).
    """
    n, k = mask.shape[-2:]
    order, _keep = active_first(mask.flatten(-2) > 0)  # (..., r): the face coordinates first
    r = order.shape[-1]
    rows_cost = r * r + 5 * r * WRITE_COST
    blocks_cost = k * (k + 1) // 2 * n * n + k * n * WRITE_COST
    if rows_cost <= blocks_cost:
        return _low_rank_on_face_rows(mask, F, u, order)
    return _low_rank_by_class_blocks(P, F, u)


def _low_rank_on_face_rows(mask: Tensor, F: Tensor, u: Tensor, order: Tensor) -> Tensor:
    """:func:`low_rank_on_faces` from the face rows: ``order (..., r)`` lists the face
    coordinates ``i k + a`` first, padded with others (masked out)."""
    n, k = mask.shape[-2:]
    mean = (mask / mask.sum(-1, keepdim=True).clamp_min(1)) @ u  # (..., n, s): face means of u
    keep = torch.gather(mask.flatten(-2), -1, order)  # 0 on padding
    rows, classes = order // k, order % k
    G = take_rows(F, rows) * (take_rows(u, classes) - take_rows(mean, rows))  # (..., r, s)
    small = G @ G.mT * (keep.unsqueeze(-1) * keep.unsqueeze(-2))  # (..., r, r)
    r = order.shape[-1]
    wide = torch.zeros(*small.shape[:-1], n * k, dtype=mask.dtype, device=mask.device)
    wide = wide.scatter(-1, order.unsqueeze(-2).expand(*order.shape[:-1], r, r), small)
    full = torch.zeros(*wide.shape[:-2], n * k, n * k, dtype=mask.dtype, device=mask.device)
    return full.scatter(-2, order.unsqueeze(-1).expand(*order.shape, n * k), wide)


def _low_rank_by_class_blocks(P: Tensor, F: Tensor, u: Tensor) -> Tensor:
    """:func:`low_rank_on_faces` as ``P (U U^T) P``: the class blocks of ``U U^T`` are
    ``U_a U_b^T`` with ``U_a = F diag(u_a)`` ``(..., n, s)``, and ``U_b U_a^T = (U_a U_b^T)^T``,
    so only the blocks with ``a <= b`` are multiplied; ``P`` is applied to the ``(nk, nk)``
    result, block by block (``O(n² k³)``)."""
    n, k = P.shape[-3:-1]
    U = u.unsqueeze(-2) * F.unsqueeze(-3)  # (..., k, n, s)
    upper = [U[..., a, :, :] @ U[..., a:, :, :].flatten(-3, -2).mT for a in range(k)]
    rows = [
        torch.cat(
            [upper[b][..., (a - b) * n : (a - b + 1) * n].mT for b in range(a)] + [upper[a]], -1
        )
        for a in range(k)
    ]  # row a: (..., n, k n), the blocks U_a U_b^T for b = 0 .. k - 1
    UU = torch.stack(rows, -3).unflatten(-1, (k, n))  # (..., k, n, k, n): classes outside
    half = torch.einsum("...iac,...cidj->...iadj", P, UU)
    H = torch.einsum("...iadj,...jdb->...iajb", half, P)
    return H.reshape(*P.shape[:-3], n * k, n * k)
