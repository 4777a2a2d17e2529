"""Multiclass SVM heads in the dual: Crammer–Singer hinge + group lasso + ridge (paper, Problem 10).

Labels ``y_i`` with one-hot ``Y (..., n, k)``, features ``F (..., n, m)``. Primal over ``W (k, m)``:

    P(W) = Σ_i max_l [(W_l - W_{y_i}) · f_i + 1 - Y_il] + lam1 Σ_j ||W[:, j]|| + (lam2/2) ||W||²

Dual over ``Λ (..., n, k)`` with every row on the probability simplex (minimization form):

    φ(Λ) = 1/(2 lam2) Σ_j ||BST((Y - Λ)^T F[:, j], lam1)||² + <Y, Λ>,   D(Λ) = n - φ(Λ)

with the primal–dual link ``W[:, j] = BST((Y - Λ)^T F[:, j], lam1) / lam2``. (The paper's eq. (10)
prints ``1/lam2``; the conjugate of ``lam1 ||u|| + (lam2/2)||u||²`` gives ``1/(2 lam2)``.) The
gradient is ``∇φ(Λ) = Y - F W(Λ)^T`` (one minus the scores), Lipschitz with constant
``||F||_2² / lam2``. ``P(0) = n``, so the relative gap is ``(P(W(Λ)) - D(Λ)) / n``.

Two problem objects share these formulas:

- :class:`GroupLassoSVMDual` works with the features (``lam1 >= 0``): ``O(n m k)`` per iteration.
- :class:`CrammerSingerKernelDual` (``lam1 = 0``) iterates with the kernel ``K = F F^T``:
  ``φ(Λ) = tr((Y - Λ)^T K (Y - Λ)) / (2 lam2) + <Y, Λ>``, ``O(n² k)`` per iteration once ``K`` is
  formed — with m = 16,000 ResNet-12 features and n ≤ 75 this is the efficient form — and is
  differentiated through the features (``O(n m k)``, not the ``O(n² m)`` of ``K``'s graph).

At the solution only the active columns (``||v_j|| > lam1``) carry curvature or gradient: the
reduced Hessian and the backward passes of the feature form work on them alone
(:func:`active_columns`), 20–27 % of the columns on the benchmark heads.

Optimality on the active faces (implicit differentiation, Newton polish): with ``A_i`` the
support of row ``i`` of ``Λ``, the gradient is constant on ``A_i`` (its value is the multiplier of
the row's sum constraint). The stationarity map is therefore the projection ``P ∇φ`` of the
gradient onto the tangent space of the face (``P`` removes the mean over ``A_i`` and zeroes the
rest), and the reduced Hessian is ``P H P + (I - P)``, with ``H`` the Hessian of ``φ``.
"""

from __future__ import annotations

import math
from functools import lru_cache

import torch
from torch import Tensor

from sparselayers._validation import check_values
from sparselayers.ops.prox import group_norm
from sparselayers.ops.simplex import project_simplex
from sparselayers.ops.structured import block_diagonal
from sparselayers.problems.svm_scores import (
    FeatureScores,
    KernelScores,
    ShrunkWeights,
    active_columns,
    feature_scores_vjp,
    kernel_scores_vjp,
    shrink_columns,
)

# -- shared formulas --------------------------------------------------------------------------


def primal_weights(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
    """``W (..., k, m)`` from the dual ``Λ (..., n, k)`` (differentiable in every argument)."""
    return ShrunkWeights.apply(F, Y - L, lam1, lam2)  # W_j = BST(v_j, lam1) / lam2


def _hinge(S: Tensor, Y: Tensor) -> Tensor:
    """``Σ_i max_l (S_il + 1 - Y_il) - S_{i y_i}`` per task, for scores ``S (..., n, k)``."""
    return ((S + 1 - Y).amax(-1) - (S * Y).sum(-1)).sum(-1)


def _relative_gap(L: Tensor, Y: Tensor, primal: Tensor, dual: Tensor) -> Tensor:
    n, k = L.shape[-2:]
    tolerance = 100 * k * torch.finfo(L.dtype).eps
    feasible = (L >= 0).all(-1).all(-1) & ((L.sum(-1) - 1).abs() <= tolerance).all(-1)
    gap = ((primal - dual) / n).clamp_min(0)
    return torch.where(feasible, gap, torch.full_like(gap, torch.inf))


def face_mask(L: Tensor) -> Tensor:
    """``(..., n, k)``: 1 on the support of each row of ``Λ`` (its face of the simplex)."""
    return (L > 0).to(L.dtype)


def project_tangent(L: Tensor, v: Tensor) -> Tensor:
    """Projection of ``v (..., n, k)`` onto the tangent space of ``Λ``'s face."""
    mask = face_mask(L)
    mean = (mask * v).sum(-1, keepdim=True) / mask.sum(-1, keepdim=True).clamp_min(1)
    return mask * (v - mean)


def _face_projectors(L: Tensor) -> Tensor:
    """``(..., n, k, k)``: the projector ``P_i = diag(a_i) - a_i a_i^T / |A_i|`` of every row onto
    the tangent space of its face (``a_i`` the face mask of row ``i``)."""
    mask = face_mask(L)
    count = mask.sum(-1, keepdim=True).clamp_min(1)
    eye_k = torch.eye(L.shape[-1], dtype=L.dtype, device=L.device)
    return mask.unsqueeze(-1) * eye_k - mask.unsqueeze(-1) * mask.unsqueeze(-2) / count[..., None]


def _reduced_system(L: Tensor, M: Tensor, F: Tensor | None = None, u: Tensor | None = None):
    """``P H P + (I - P)`` for ``H = M ⊗ I_k + U U^T`` and the face projector ``P`` of ``Λ``.

    ``M (..., n, n)``; the optional low-rank term has columns ``U[(i, a), j] = F_ij u_aj`` for
    ``F (..., n, s)``, ``u (..., k, s)``. ``P`` is block diagonal (one ``k x k`` block per row),
    so ``P (M ⊗ I) P`` has blocks ``M_ij P_i P_j``: ``O(n² k³)``, where multiplying dense
    ``nk x nk`` matrices costs ``O(n³ k³)`` (measured 15 ms per product for 8 tasks of 15-shot
    5-way heads); the low-rank term is :func:`_low_rank_on_faces`. Returns ``(..., nk, nk)``.
    """
    n, k = L.shape[-2:]
    P = _face_projectors(L)
    pairs = torch.einsum("...iac,...jcb->...iajb", P, P)
    H = (M[..., :, None, :, None] * pairs).reshape(*L.shape[:-2], n * k, n * k)
    if F is not None and u is not None:
        H = H + _low_rank_on_faces(L, P, F, u)
    return H + block_diagonal(torch.eye(k, dtype=L.dtype, device=L.device) - P)


WRITE_COST = 50
"""Cost of writing one element of a fresh intermediate, in multiply-adds of a matrix product:
one CPU core ran batched float32 products at 46e9 multiply-adds/s and filled fresh tensors
(page faults included) at 0.85e9 elements/s. Picks the form of :func:`_low_rank_on_faces`."""


def _low_rank_on_faces(L: Tensor, P: Tensor, F: Tensor, u: Tensor) -> Tensor:
    """``(P U)(P U)^T`` for ``U[(i, a), j] = F_ij u_aj`` and the face projectors ``P`` of ``Λ``
    ``(..., n, k, k)`` (:func:`_face_projectors`), ``(..., nk, nk)``.

    ``(P U)[(i, a), j] = F_ij (P_i u_j)_a`` vanishes off the faces, so the ``r`` face rows
    ``(i, a)`` suffice (:func:`_low_rank_on_face_rows`: ``r²`` products of length ``s`` and five
    ``(r, s)`` intermediates); but ``U U^T`` is symmetric, so its ``k(k + 1)/2`` upper class
    blocks suffice too (:func:`_low_rank_by_class_blocks`: ``k(k + 1)/2 · n²`` products and one
    ``(k n, s)`` intermediate). The cheaper is taken (:data:`WRITE_COST`): the blocks on 5-shot
    5-way heads, whose faces hold 92-100 of the 125 coordinates (0.4 ms less of 1.7 ms at
    m = 1,600, 1.3 ms less at m = 16,000), the rows on 15-shot heads (180 of 375 coordinates:
    84,000 block products against 32,000).
    """
    n, k = L.shape[-2:]
    flat = face_mask(L).flatten(-2) > 0  # (..., nk)
    coordinates = torch.arange(n * k, device=L.device).expand(*flat.shape[:-1], 1, n * k)
    (order,) = active_columns(flat, coordinates)  # (..., 1, r): the face coordinates first
    r = order.shape[-1]
    rows_cost = r * r + 5 * r * WRITE_COST
    blocks_cost = k * (k + 1) // 2 * n * n + k * n * WRITE_COST
    if rows_cost <= blocks_cost:
        return _low_rank_on_face_rows(L, F, u, order[..., 0, :])
    return _low_rank_by_class_blocks(P, F, u)


def _low_rank_on_face_rows(L: Tensor, F: Tensor, u: Tensor, order: Tensor) -> Tensor:
    """:func:`_low_rank_on_faces` from the face rows: ``order (..., r)`` lists the face
    coordinates ``i k + a`` first, padded with others (masked out)."""
    n, k = L.shape[-2:]
    mask = face_mask(L)
    mean = (mask / mask.sum(-1, keepdim=True).clamp_min(1)) @ u  # (..., n, s): face means of u
    keep = torch.gather(mask.flatten(-2), -1, order)  # 0 on padding
    rows, classes = order // k, order % k
    G = _rows(F, rows) * (_rows(u, classes) - _rows(mean, rows))  # (..., r, s)
    small = G @ G.mT * (keep.unsqueeze(-1) * keep.unsqueeze(-2))  # (..., r, r)
    r = order.shape[-1]
    wide = torch.zeros(*small.shape[:-1], n * k, dtype=L.dtype, device=L.device)
    wide = wide.scatter(-1, order.unsqueeze(-2).expand(*order.shape[:-1], r, r), small)
    full = torch.zeros(*wide.shape[:-2], n * k, n * k, dtype=L.dtype, device=L.device)
    return full.scatter(-2, order.unsqueeze(-1).expand(*order.shape, n * k), wide)


def _low_rank_by_class_blocks(P: Tensor, F: Tensor, u: Tensor) -> Tensor:
    """:func:`_low_rank_on_faces` as ``P (U U^T) P``: the class blocks of ``U U^T`` are
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


def _rows(X: Tensor, index: Tensor) -> Tensor:
    """``X[..., index, :]`` per task for ``X (..., n, s)``, ``index (..., r)``: ``(..., r, s)``.

    ``index_select`` on the rows of the flattened tasks copies whole rows: 4x faster than the
    advanced indexing ``X[tasks, index]`` (which indexes per element) and 14x faster than
    ``torch.gather`` with an expanded index (measured on 5-shot heads at m = 16,000)."""
    batch = index.shape[:-1]
    n, s = X.shape[-2:]
    flat_X = X.expand(*batch, n, s).reshape(-1, s)
    tasks = torch.arange(flat_X.shape[0] // n, device=X.device).unsqueeze(-1)
    flat_index = (index.reshape(-1, index.shape[-1]) + n * tasks).reshape(-1)
    return flat_X.index_select(0, flat_index).reshape(*batch, index.shape[-1], s)


def _validate_labels(Y: Tensor) -> None:
    if not bool((Y.sum(-1) == 1).all()):
        raise ValueError("labels must be integers in [0, num_classes)")


def _validate_lam2(lam2: Tensor) -> None:
    if not bool((lam2 > 0).all()):
        raise ValueError(f"lam2 must be positive, got min {float(lam2.min()):g}")


class _SimplexRowsDual:
    """What both SVM duals share.

    Rows of ``Λ`` live on simplices; the parameters are ``(F or K, Y, ..., lam2)``.
    """

    @staticmethod
    def validate(first: Tensor, Y: Tensor, *rest: Tensor) -> None:
        _validate_labels(Y)
        _validate_lam2(rest[-1])

    @staticmethod
    def initial(first: Tensor, Y: Tensor, *rest: Tensor) -> Tensor:
        """``Λ = Y``: the dual point of ``W = 0``."""
        return Y.clone()

    @staticmethod
    def prox(V: Tensor, step: Tensor, *params: Tensor) -> Tensor:
        return project_simplex(V)

    active = staticmethod(face_mask)
    project = staticmethod(project_tangent)

    @staticmethod
    def restrict(L: Tensor, *params: Tensor):
        """The dual has no cheaper restriction: returns the problem itself. (Projecting Newton
        candidates onto the simplices was tried: it accepted points on slightly wrong faces,
        within the tolerance, whose implicit gradients were up to 20 % off.)"""
        return L, params, lambda solution: solution


# -- feature form (lam1 >= 0) -------------------------------------------------------------------


class GroupLassoSVMDual(_SimplexRowsDual):
    """The group-lasso multiclass SVM dual in feature form; parameters ``(F, Y, lam1, lam2)``."""

    name = "group_lasso_svm_dual"
    param_names = ("features", "labels", "lam1", "lam2")

    @staticmethod
    def validate(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> None:
        """Labels, ``lam2 > 0``, and NaN/Inf: ``F`` in one pass (its sum is finite unless an
        entry is NaN/Inf or the sum overflows; only then is ``F`` inspected entry by entry,
        which at m = 16,000 costs four passes, 5 ms)."""
        if not bool(torch.isfinite(F.sum())):
            check_values(features=F)
        check_values(lam1=lam1, lam2=lam2)
        _validate_labels(Y)
        _validate_lam2(lam2)

    # Above this many multiply-adds per task, forming the reduced Hessian for a Newton polish
    # costs more than the solve itself. Counted as (n k)^2 m with m the columns of the problem
    # solved (the working set of solvers/svm_working_set.py); the Hessian is formed on the
    # active rows and columns only, about half of that on the benchmark heads. 6.5e7 for 5-shot
    # 5-way at m = 16,000 (polished), 6e8 for 15-shot (not polished).
    polish_budget = 1e8

    @classmethod
    def can_polish(cls, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> bool:
        n, m = F.shape[-2:]
        return (n * Y.shape[-1]) ** 2 * m <= cls.polish_budget

    # -- block coordinate descent over samples (solvers/sample_bcd.py) --------------------------
    @staticmethod
    def sample_state(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``V^T = F^T (Y - Λ)``, ``(..., m, k)`` (groups in rows, contiguous), kept up to date
        by rank-one updates."""
        return F.mT @ (Y - L)

    @staticmethod
    def sample_step(
        V: Tensor, i: int, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Row ``i`` of ``∇φ = Y - F W^T`` ``(..., k)`` and a curvature bound ``(...)`` for it.

        A change ``δ`` of row ``i`` (a difference of simplex points, ``||δ|| <= √2``) moves
        ``v_j`` by ``F_ij δ``; groups with ``||v_j|| + √2 |F_ij| <= lam1`` stay inside the flat
        zone of ``(||v|| - lam1)_+^2 / 2`` and add no curvature, the others at most ``F_ij^2``.
        So ``Σ_{j near-active} F_ij^2 / lam2`` majorizes the row's Hessian over every feasible
        step — much tighter than ``||f_i||^2 / lam2`` when most groups are zero.
        """
        f = F[..., i, :]  # (..., m)
        norm = group_norm(V)  # (..., m); V is (..., m, k) here
        scale = torch.where(norm > lam1[..., None], 1 - lam1[..., None] / norm, 0) / lam2[..., None]
        gradient = Y[..., i, :] - ((f * scale).unsqueeze(-2) @ V)[..., 0, :]
        reachable = norm + math.sqrt(2) * f.abs() > lam1[..., None]
        curvature = (f * f * reachable).sum(-1) / lam2
        return gradient, curvature

    @staticmethod
    def sample_update(
        V: Tensor, i: int, delta: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor
    ) -> Tensor:
        """``V^T`` after ``Λ[i] += delta``."""
        return V - F[..., i, :, None] * delta[..., None, :]

    @staticmethod
    def lipschitz(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        n, m = F.shape[-2:]
        small = F @ F.mT if n <= m else F.mT @ F
        top = torch.linalg.eigvalsh(small)[..., -1]
        return top.clamp_min(torch.finfo(F.dtype).tiny) / lam2

    @staticmethod
    def smooth_gradient(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        # Plain operations (the unrolled backward differentiates them): calling an
        # autograd.Function costs ~30 us, a tenth of a solver iteration on 5-shot heads.
        # Y - F W^T in one baddbmm (the solvers pass flattened tasks (T, n, m)): on 5-shot
        # heads at m = 1,600 an iteration costs in proportion to its operations.
        W = shrink_columns((Y - L).mT @ F, lam1, lam2)
        return torch.baddbmm(Y, F, W.mT, alpha=-1)

    @staticmethod
    def relative_gap(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        W = shrink_columns((Y - L).mT @ F, lam1, lam2)  # (..., k, m)
        ridge = lam2 / 2 * (W * W).sum((-2, -1))
        primal = _hinge(F @ W.mT, Y) + lam1 * group_norm(W.mT).sum(-1) + ridge
        dual = L.shape[-2] - (Y * L).sum((-2, -1)) - ridge
        return _relative_gap(L, Y, primal, dual)

    @staticmethod
    def column_norms(L: Tensor, F: Tensor, Y: Tensor) -> Tensor:
        """``||(Y - Λ)^T F_j||``, ``(..., m)``."""
        V = (Y - L).mT @ F
        return (V * V).sum(-2).sqrt()

    @staticmethod
    def stationarity(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``P (Y - F W^T)``; its vector-Jacobian product (:class:`FeatureScores`) makes three
        passes over ``F`` where autograd made nine."""
        return project_tangent(L, Y - FeatureScores.apply(F, Y - L, lam1, lam2))

    @staticmethod
    def stationarity_vjp(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor, u: Tensor):
        """``u``'s vector-Jacobian product with :meth:`stationarity` in ``(F, Y, lam1, lam2)``,
        in closed form (what ``torch.func.vjp`` gives, without evaluating the scores)."""
        w = project_tangent(L, u)
        # The product is linear in its cotangent: pulling back -w gives the negated terms
        # without a pass over the (..., n, m) gradient to negate it (1.8 ms at m = 16,000).
        dF, dA, dlam1, dlam2 = feature_scores_vjp(F, Y - L, lam1, lam2, -w)
        return dF, w + dA, dlam1, dlam2

    @staticmethod
    def reduced_hessian(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``P H P + I - P`` with ``H = (1/lam2) Σ_j F_j F_j^T ⊗ ∂BST(v_j)``, ``(..., nk, nk)``.

        ``∂BST(v) = c I + d u u^T`` on active groups (``c = 1 - lam1/||v||``, ``d = lam1/||v||``,
        ``u = v/||v||``), 0 elsewhere; so ``H = (F diag(c) F^T) ⊗ I + U diag(d) U^T / lam2`` with
        ``U`` the ``(nk, m)`` matrix of columns ``F_j ⊗ u_j``. Only the active groups contribute:
        they are gathered first, so the ``O(n² k² s)`` product costs ``s`` = active columns, not
        ``m`` (5x less at 80 % column sparsity).
        """
        V = (Y - L).mT @ F  # (..., k, m)
        F, V = active_columns(group_norm(V.mT) > lam1[..., None], F, V)
        norm = group_norm(V.mT)
        lam1_ = lam1[..., None]
        on = norm > lam1_
        safe = torch.where(on, norm, torch.ones_like(norm))
        c = torch.where(on, 1 - lam1_ / safe, torch.zeros_like(norm))
        d = torch.where(on, lam1_ / safe, torch.zeros_like(norm))
        u = V * (d / lam2[..., None]).sqrt().unsqueeze(-2) / safe.unsqueeze(-2)  # (..., k, s)
        M = (F * c.unsqueeze(-2)) @ F.mT / lam2[..., None, None]
        return _reduced_system(L, M, F, u)  # U[(i, a), j] = F_ij sqrt(d_j / lam2) u_aj

    @staticmethod
    def cvxpy_sizes(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> tuple[int, int, int]:
        return (F.shape[-2], F.shape[-1], Y.shape[-1])

    @staticmethod
    def cvxpy_arguments(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> tuple[Tensor, ...]:
        # DPP forbids products of parameter-dependent factors: Y^T F and lam2 * Y are passed as
        # parameters, and the objective is multiplied by lam2 (same minimizer).
        return (F, Y.mT @ F, lam2[..., None, None] * Y, lam1)

    @staticmethod
    def cvxpy_problem(n: int, m: int, k: int):
        return _cvxpy_svm_dual(n, m, k)


@lru_cache(maxsize=16)
def _cvxpy_svm_dual(n: int, m: int, k: int):
    import cvxpy as cp

    F = cp.Parameter((n, m))
    YtF = cp.Parameter((k, m))
    lam2_Y = cp.Parameter((n, k))
    lam1 = cp.Parameter(nonneg=True)
    L = cp.Variable((n, k))
    norms = cp.norm(YtF - L.T @ F, 2, axis=0)
    objective = cp.sum(cp.square(cp.pos(norms - lam1))) / 2 + cp.sum(cp.multiply(lam2_Y, L))
    constraints = [L >= 0, cp.sum(L, axis=1) == 1]
    return cp.Problem(cp.Minimize(objective), constraints), [F, YtF, lam2_Y, lam1], [L]


# -- kernel form (lam1 = 0) -----------------------------------------------------------------------


class CrammerSingerKernelDual(_SimplexRowsDual):
    """The Crammer–Singer dual (``lam1 = 0``) in kernel form; parameters ``(F, K, Y, lam2)``
    with ``K = F F^T (..., n, n)`` computed once by the caller.

    The solvers only read ``K`` (``O(n² k)`` per iteration). The stationarity map is evaluated
    with ``K`` but differentiated as ``P (Y - F (F^T (Y - Λ)) / lam2)``, so that the implicit
    backward reaches ``F`` in ``O(n m k)``: differentiating through ``K = F F^T`` costs
    ``O(n² m)`` and took 60 % of the forward+backward time at m = 16,000 (profiled). In implicit
    mode ``K`` is therefore passed detached; in unrolled mode it carries the graph of ``F F^T``.
    """

    name = "crammer_singer_dual"
    # K is computed from the features, which are checked first (NaN/Inf propagate to K).
    param_names = ("features", "kernel", "labels", "lam2")

    @staticmethod
    def validate(F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> None:
        """Labels, ``lam2 > 0``, and NaN/Inf, checked on ``K``: ``O(n²)`` instead of the
        ``O(n m)`` of checking ``F`` (4 passes over ``F``: 5 ms at m = 16,000, a fifth of the
        forward). NaN/Inf in ``F`` reach ``K``; only then is ``F`` itself inspected."""
        if not bool(torch.isfinite(K).all()):
            check_values(features=F)
            raise ValueError("features are too large: the kernel F F^T overflows")
        check_values(lam2=lam2)
        _validate_labels(Y)
        _validate_lam2(lam2)

    @staticmethod
    def initial(F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``Λ = Y``: the dual point of ``W = 0``."""
        return Y.clone()

    @staticmethod
    def can_polish(F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> bool:
        """The reduced Hessian is ``K ⊗ I / lam2``: an ``nk x nk`` system, always cheap."""
        return True

    # -- block coordinate descent over samples (solvers/sample_bcd.py) --------------------------
    @classmethod
    def sample_state(cls, L: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """The scores ``S = K (Y - Λ) / lam2 (..., n, k)``, kept up to date by rank-one updates."""
        return cls.scores(L, K, Y, lam2)

    @staticmethod
    def sample_step(S: Tensor, i: int, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor):
        """Row ``i`` of the gradient and its exact curvature ``K_ii / lam2`` (the Hessian block
        of a row is ``K_ii I_k / lam2``)."""
        return Y[..., i, :] - S[..., i, :], K[..., i, i] / lam2

    @staticmethod
    def sample_update(S: Tensor, i: int, delta: Tensor, F: Tensor, K: Tensor, Y, lam2: Tensor):
        return S - K[..., :, i, None] * delta[..., None, :] / lam2[..., None, None]

    @staticmethod
    def lipschitz(F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        top = torch.linalg.eigvalsh(K)[..., -1]
        return top.clamp_min(torch.finfo(K.dtype).tiny) / lam2

    @staticmethod
    def scores(L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``S = F W^T = K (Y - Λ) / lam2``, ``(..., n, k)``."""
        return K @ (Y - L) / lam2[..., None, None]

    @classmethod
    def smooth_gradient(cls, L: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        return Y - cls.scores(L, K, Y, lam2)

    @classmethod
    def relative_gap(cls, L: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        S = cls.scores(L, K, Y, lam2)
        ridge = ((Y - L) * S).sum((-2, -1)) / 2  # (lam2/2)||W||^2 = <Y - Λ, S>/2
        primal = _hinge(S, Y) + ridge
        dual = L.shape[-2] - (Y * L).sum((-2, -1)) - ridge
        return _relative_gap(L, Y, primal, dual)

    @staticmethod
    def stationarity(L: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``P (Y - K (Y - Λ) / lam2)``, differentiated with respect to ``F`` through
        :class:`KernelScores` (``O(n m k)``), not through ``K``."""
        return project_tangent(L, Y - KernelScores.apply(F, K, Y - L, lam2))

    @staticmethod
    def stationarity_vjp(L: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor, u: Tensor):
        """``u``'s vector-Jacobian product with :meth:`stationarity` in ``(F, K, Y, lam2)``, in
        closed form; ``K`` gets none (its dependence on ``F`` is carried by ``∂F``)."""
        w = project_tangent(L, u)
        A = Y - L
        S = K @ A / lam2[..., None, None]
        dF, _, dA, dlam2 = kernel_scores_vjp(F, K, A, lam2, S, w)
        return -dF, torch.zeros_like(K), w - dA, -dlam2

    @staticmethod
    def reduced_hessian(L: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``P (K ⊗ I_k / lam2) P + I - P``, ``(..., nk, nk)``."""
        return _reduced_system(L, K / lam2[..., None, None])


GROUP_LASSO_SVM = GroupLassoSVMDual()
CRAMMER_SINGER = CrammerSingerKernelDual()
