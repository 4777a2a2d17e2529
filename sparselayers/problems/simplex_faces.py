"""The faces of the dual's simplices: the active set of the SVM duals.

Rows of ``Λ = Y - A (..., n, k)`` live on probability simplices (the solvers iterate on the
offsets ``A``, ``problems/svm_dual.py``). At a solution, with ``S_i`` the support of row ``i`` of
``Λ`` (its face: the coordinates where ``A_i < Y_i``), the gradient of the dual is constant on
``S_i`` (its value is the multiplier of the row's sum constraint). The stationarity map is
therefore the projection ``P ∇φ`` of the gradient onto the tangent space of the face (``P``
removes the mean over ``S_i`` and zeroes the rest), and the reduced Hessian is
``P H P + (I - P)``, with ``H`` the Hessian of ``φ``. Everything here takes the face ``mask``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.ops.face_low_rank import low_rank_on_faces
from sparselayers.ops.structured import block_diagonal

__all__ = ["face_mask", "face_projectors", "project_tangent", "reduced_system", "solve_on_faces"]


def face_mask(A: Tensor, Y: Tensor) -> Tensor:
    """``(..., n, k)``: 1 on the support of each row of ``Λ = Y - A`` (its face of the simplex).

    Exact: the projection (``ops/simplex.py``) writes ``A = Y`` off the face."""
    return (A < Y).to(A.dtype)


def project_tangent(mask: Tensor, v: Tensor) -> Tensor:
    """Projection of ``v (..., n, k)`` onto the tangent space of the faces ``mask``."""
    mean = (mask * v).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp_min(1)
    return mask * (v - mean)


def face_projectors(mask: Tensor) -> Tensor:
    """``(..., n, k, k)``: the projector ``P_i = diag(a_i) - a_i a_i^T / |S_i|`` of every row onto
    the tangent space of its face (``a_i`` row ``i`` of the face ``mask``)."""
    count = mask.sum(-1, keepdim=True).clamp_min(1)
    eye_k = torch.eye(mask.shape[-1], dtype=mask.dtype, device=mask.device)
    return mask.unsqueeze(-1) * eye_k - mask.unsqueeze(-1) * mask.unsqueeze(-2) / count[..., None]


def reduced_system(mask: Tensor, M: Tensor, F: Tensor | None = None, u: Tensor | None = None):
    """``P H P + (I - P)`` for ``H = M ⊗ I_k + U U^T`` and the projector ``P`` of the faces
    ``mask (..., n, k)``.

    ``M (..., n, n)``; the optional low-rank term has columns ``U[(i, a), j] = F_ij u_aj`` for
    ``F (..., n, s)``, ``u (..., k, s)``. ``P`` is block diagonal (one ``k x k`` block per row),
    so ``P (M ⊗ I) P`` has blocks ``M_ij P_i P_j``: ``O(n² k³)``, where multiplying dense
    ``nk x nk`` matrices costs ``O(n³ k³)`` (measured 15 ms per product for 8 tasks of 15-shot
    5-way heads); the low-rank term is formed by ``ops/face_low_rank.py``.
    Returns ``(..., nk, nk)``.
    """
    n, k = mask.shape[-2:]
    P = face_projectors(mask)
    pairs = torch.einsum("...iac,...jcb->...iajb", P, P)
    H = (M[..., :, None, :, None] * pairs).reshape(*mask.shape[:-2], n * k, n * k)
    if F is not None and u is not None:
        H = H + low_rank_on_faces(mask, P, F, u)
    return H + block_diagonal(torch.eye(k, dtype=mask.dtype, device=mask.device) - P)


def solve_on_faces(mask: Tensor, M: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """``(z, ok)``: ``z`` solves ``(P (M ⊗ I_k) P + I - P) z = v`` on the faces ``mask (..., n,
    k)`` (``z = 0`` off them), ``ok`` per task; the system :func:`reduced_system` forms for
    ``H = M ⊗ I_k``, solved without forming it.

    On the normal directions of the faces (each row's mean over its face) the system is the
    identity, so there ``z`` is ``v``'s component. On the tangent space, with ``w = P v`` and
    ``R_a`` the rows whose face holds class ``a``, stationarity reads
    ``M_{R_a R_a} z_a = w_a + μ`` on ``R_a`` (``z_a`` column ``a`` of ``z``, ``μ (..., n)`` the
    multipliers of the rows' constraints ``Σ_a z_ia = 0``), so ``z_a = C_a (w_a + μ)`` with
    ``C_a = M_{R_a R_a}^{-1}`` padded with zeros, and the constraints give the ``n x n`` system
    ``(Σ_a C_a) μ = -Σ_a C_a w_a``. That is ``k + 1`` factorizations of ``n x n`` matrices,
    ``O(k n³)``, where the ``nk x nk`` system costs ``O(n³ k³)``.

    ``ok`` is false where a block ``M_{R_a R_a}`` is not positive definite (the full system can
    still be: callers fall back to it) or the solution is not finite.

    Args:
        mask: ``(..., n, k)`` the faces (:func:`face_mask`).
        M: ``(..., n, n)`` symmetric positive semidefinite.
        v: ``(..., n, k)`` right-hand side.
    """
    n = mask.shape[-2]
    eye = torch.eye(n, dtype=M.dtype, device=M.device)
    on = mask.mT  # (..., k, n): row i is in R_a
    pad = eye * (1 - on).unsqueeze(-1)
    blocks = M.unsqueeze(-3) * (on.unsqueeze(-1) * on.unsqueeze(-2)) + pad  # M_{R_a R_a}, I
    factor, info = torch.linalg.cholesky_ex(blocks)
    factor = torch.where((info == 0)[..., None, None], factor, eye)  # failed: reported by ok
    # The inverse of the padded block is exactly the identity on the padding: subtracting it
    # leaves C_a, exact zeros outside R_a.
    C = torch.cholesky_inverse(factor) - pad  # (..., k, n, n)
    w = project_tangent(mask, v)
    Cw = C @ w.mT.unsqueeze(-1)  # (..., k, n, 1)
    empty = (mask.sum(-1) == 0).to(M.dtype)  # rows on no face (not at a solution): identity
    schur = C.sum(-3) + eye * empty.unsqueeze(-1)
    schur_factor, schur_info = torch.linalg.cholesky_ex(schur)
    mu = -torch.cholesky_solve(Cw.sum(-3), schur_factor)  # (..., n, 1)
    tangent = (Cw + C @ mu.unsqueeze(-3)).squeeze(-1).mT  # C_a (w_a + μ)
    # C_a w_a and C_a μ cancel in the rows' sums only to rounding of those terms: projected,
    # so that rows on a vertex (no tangent space) get exactly zero and Newton candidates stay
    # on the simplices' planes (where their feasibility test tolerates no rounding).
    z = project_tangent(mask, tangent) + mask * (v - w)
    ok = (info == 0).all(-1) & (schur_info == 0) & torch.isfinite(z).flatten(-2).all(-1)
    return z, ok
