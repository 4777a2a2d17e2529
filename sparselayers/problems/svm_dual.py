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
- :class:`CrammerSingerKernelDual` (``lam1 = 0``) only needs the kernel ``K = F F^T``:
  ``φ(Λ) = tr((Y - Λ)^T K (Y - Λ)) / (2 lam2) + <Y, Λ>``, ``O(n² k)`` per iteration once ``K`` is
  formed — with m = 16,000 ResNet-12 features and n ≤ 75 this is the efficient form.

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

from sparselayers.ops.prox import block_soft_threshold, group_norm
from sparselayers.ops.simplex import project_simplex
from sparselayers.ops.structured import block_diagonal, kron_identity

# -- shared formulas --------------------------------------------------------------------------


def primal_weights(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
    """``W (..., k, m)`` from the dual ``Λ (..., n, k)`` (differentiable in every argument)."""
    V = (Y - L).mT @ F  # (..., k, m): column j is v_j = (Y - Λ)^T F[:, j]
    return block_soft_threshold(V.mT, lam1[..., None]).mT / lam2[..., None, None]


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


def _reduce(L: Tensor, H: Tensor) -> Tensor:
    """``P H P + (I - P)`` for the face projector ``P`` of ``Λ``, all ``(..., nk, nk)``."""
    k = L.shape[-1]
    mask = face_mask(L)
    count = mask.sum(-1, keepdim=True).clamp_min(1)
    eye_k = torch.eye(k, dtype=L.dtype, device=L.device)
    P = block_diagonal(
        mask.unsqueeze(-1) * eye_k - mask.unsqueeze(-1) * mask.unsqueeze(-2) / count[..., None]
    )
    eye = torch.eye(P.shape[-1], dtype=L.dtype, device=L.device)
    return P @ H @ P + eye - P


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
        """The dual has no cheaper restriction: returns the problem itself."""
        return L, params, lambda solution: solution


# -- feature form (lam1 >= 0) -------------------------------------------------------------------


class GroupLassoSVMDual(_SimplexRowsDual):
    """The group-lasso multiclass SVM dual in feature form; parameters ``(F, Y, lam1, lam2)``."""

    name = "group_lasso_svm_dual"
    param_names = ("features", "labels", "lam1", "lam2")
    # Above this many multiply-adds per task, forming the reduced Hessian for a Newton polish
    # costs more than the solve itself (O(n^2 k^2 m); ~2e9 for 15-shot 5-way, m = 16,000).
    polish_budget = 5e7

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
        return Y - F @ primal_weights(L, F, Y, lam1, lam2).mT

    @staticmethod
    def relative_gap(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        W = primal_weights(L, F, Y, lam1, lam2)
        ridge = lam2 / 2 * (W * W).sum((-2, -1))
        primal = _hinge(F @ W.mT, Y) + lam1 * group_norm(W.mT).sum(-1) + ridge
        dual = L.shape[-2] - (Y * L).sum((-2, -1)) - ridge
        return _relative_gap(L, Y, primal, dual)

    @classmethod
    def stationarity(cls, L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        return project_tangent(L, cls.smooth_gradient(L, F, Y, lam1, lam2))

    @staticmethod
    def reduced_hessian(L: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``P H P + I - P`` with ``H = (1/lam2) Σ_j F_j F_j^T ⊗ ∂BST(v_j)``, ``(..., nk, nk)``.

        ``∂BST(v) = c I + d u u^T`` on active groups (``c = 1 - lam1/||v||``, ``d = lam1/||v||``,
        ``u = v/||v||``), 0 elsewhere; so ``H = (F diag(c) F^T) ⊗ I + U diag(d) U^T / lam2`` with
        ``U`` the ``(nk, m)`` matrix of columns ``F_j ⊗ u_j``.
        """
        n, k = L.shape[-2:]
        V = ((Y - L).mT @ F).mT  # (..., m, k)
        norm = group_norm(V)
        lam1_ = lam1[..., None]
        on = norm > lam1_
        safe = torch.where(on, norm, torch.ones_like(norm))
        c = torch.where(on, 1 - lam1_ / safe, torch.zeros_like(norm))
        d = torch.where(on, lam1_ / safe, torch.zeros_like(norm))
        u = V / safe.unsqueeze(-1)
        H = kron_identity((F * c.unsqueeze(-2)) @ F.mT, k)
        U = (F.unsqueeze(-1) * (u * d.sqrt().unsqueeze(-1)).unsqueeze(-3)).transpose(-1, -2)
        U = U.reshape(*F.shape[:-2], n * k, F.shape[-1])  # row (i, a): F_ij sqrt(d_j) u_ja
        H = (H + U @ U.mT) / lam2[..., None, None]
        return _reduce(L, H)

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
    """The Crammer–Singer dual (``lam1 = 0``) in kernel form; parameters ``(K, Y, lam2)`` with
    ``K = F F^T (..., n, n)``. Gradients with respect to ``K`` reach ``F`` through autograd."""

    name = "crammer_singer_dual"
    # K is checked under the name of the features it is computed from (NaN/Inf propagate).
    param_names = ("features", "labels", "lam2")

    @staticmethod
    def can_polish(K: Tensor, Y: Tensor, lam2: Tensor) -> bool:
        """The reduced Hessian is ``K ⊗ I / lam2``: an ``nk x nk`` system, always cheap."""
        return True

    # -- block coordinate descent over samples (solvers/sample_bcd.py) --------------------------
    @classmethod
    def sample_state(cls, L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """The scores ``S = K (Y - Λ) / lam2 (..., n, k)``, kept up to date by rank-one updates."""
        return cls.scores(L, K, Y, lam2)

    @staticmethod
    def sample_step(S: Tensor, i: int, K: Tensor, Y: Tensor, lam2: Tensor):
        """Row ``i`` of the gradient and its exact curvature ``K_ii / lam2`` (the Hessian block
        of a row is ``K_ii I_k / lam2``)."""
        return Y[..., i, :] - S[..., i, :], K[..., i, i] / lam2

    @staticmethod
    def sample_update(S: Tensor, i: int, delta: Tensor, K: Tensor, Y: Tensor, lam2: Tensor):
        return S - K[..., :, i, None] * delta[..., None, :] / lam2[..., None, None]

    @staticmethod
    def lipschitz(K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        top = torch.linalg.eigvalsh(K)[..., -1]
        return top.clamp_min(torch.finfo(K.dtype).tiny) / lam2

    @staticmethod
    def scores(L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``S = F W^T = K (Y - Λ) / lam2``, ``(..., n, k)``."""
        return K @ (Y - L) / lam2[..., None, None]

    @classmethod
    def smooth_gradient(cls, L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        return Y - cls.scores(L, K, Y, lam2)

    @classmethod
    def relative_gap(cls, L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        S = cls.scores(L, K, Y, lam2)
        ridge = ((Y - L) * S).sum((-2, -1)) / 2  # (lam2/2)||W||^2 = <Y - Λ, S>/2
        primal = _hinge(S, Y) + ridge
        dual = L.shape[-2] - (Y * L).sum((-2, -1)) - ridge
        return _relative_gap(L, Y, primal, dual)

    @classmethod
    def stationarity(cls, L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        return project_tangent(L, cls.smooth_gradient(L, K, Y, lam2))

    @staticmethod
    def reduced_hessian(L: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``P (K ⊗ I_k / lam2) P + I - P``, ``(..., nk, nk)``."""
        return _reduce(L, kron_identity(K / lam2[..., None, None], L.shape[-1]))


GROUP_LASSO_SVM = GroupLassoSVMDual()
CRAMMER_SINGER = CrammerSingerKernelDual()
