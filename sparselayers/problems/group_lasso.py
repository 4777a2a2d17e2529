"""Group-Lasso regression (the Lasso when k = 1) — the inner problem of the paper's Problem (6).

    P(B) = 1/(2n) ||Y - F B||_F^2 + lam * sum_j ||B[j, :]||_2

with ``F (..., n, m)``, ``Y (..., n, k)``, ``B = W^T (..., m, k)`` and one ``lam (...)`` per task.

Dual (over ``theta (..., n, k)`` with ``||F[:, j]^T theta||_2 <= lam`` for every j):

    D(theta) = <Y, theta> - (n/2) ||theta||^2

A feasible dual point comes from rescaling the residual, ``theta = R / (n max(1, c / lam))`` with
``R = Y - F B`` and ``c = max_j ||F[:, j]^T R|| / n``; at the optimum ``theta = R / n`` and the gap
``P(B) - D(theta)`` is zero. When ``lam = 0`` the dual feasible set is ``{F^T theta = 0}`` and we
use its exact optimum, the least-squares value, so the gap is then the exact suboptimality.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from sparselayers.ops.gather import active_first, put_rows, take_columns, take_rows
from sparselayers.ops.prox import block_soft_threshold, group_norm
from sparselayers.ops.structured import block_diagonal
from sparselayers.ops.support_solve import GATHER_ABOVE, solve_masked, solve_system
from sparselayers.problems import quadratic

if TYPE_CHECKING:
    import cvxpy


class GroupLasso(quadratic.LeastSquaresProblem):
    """Stateless description of the group-Lasso problem (see the module docstring)."""

    name = "group_lasso"

    @classmethod
    def project(cls, B: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        """Restriction of ``v`` to the support of ``B`` (its tangent space)."""
        return cls.active(B) * v

    @staticmethod
    def lambda_max(F: Tensor, Y: Tensor) -> Tensor:
        """Smallest ``lam`` with ``B = 0``: ``max_j ||F[:, j]^T Y||_2 / n``, shape ``(...)``."""
        n = F.shape[-2]
        return group_norm(quadratic.transposed_times(F, Y)).amax(-1) / n

    # -- forward solver interface -----------------------------------------------------------
    @staticmethod
    def lipschitz(F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.lipschitz(F)

    @staticmethod
    def smooth_gradient(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.gradient(B, F, Y)

    @staticmethod
    def prox(V: Tensor, step: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        """Proximal step of ``step * lam * sum_j ||.||``; ``step`` and ``lam`` are ``(...)``."""
        return block_soft_threshold(V, (step * lam).unsqueeze(-1))

    @staticmethod
    def objective(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.value(B, F, Y) + lam * group_norm(B).sum(-1)

    @classmethod
    def relative_gap(cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        """``(P(B) - D(theta(B))) / P(0)`` per task, ``(...)``; zero certifies optimality."""
        return cls.gap_and_correlations(B, F, Y, lam)[0]

    @staticmethod
    def gap_and_correlations(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> tuple[Tensor, Tensor]:
        """The relative gap ``(...)`` and the group correlations ``||F[:, j]^T R|| / n``
        ``(..., m)`` of the residual ``R = Y - F B`` it is computed from (a group with a
        correlation above ``lam`` violates the optimality conditions if it is zero)."""
        n = F.shape[-2]
        R = Y - quadratic.times(F, B)
        primal = (R * R).sum((-2, -1)) / (2 * n) + lam * group_norm(B).sum(-1)
        correlations = group_norm(quadratic.transposed_times(F, R)) / n
        correlation = correlations.amax(-1)
        regularized = lam > 0
        safe_lam = torch.where(regularized, lam, torch.ones_like(lam))
        scale = torch.where(
            regularized, (correlation / safe_lam).clamp_min(1), torch.ones_like(lam)
        )
        theta = R / (n * scale)[..., None, None]
        dual = (Y * theta).sum((-2, -1)) - n / 2 * (theta * theta).sum((-2, -1))
        if not bool(regularized.all()):
            dual = torch.where(regularized, dual, quadratic.least_squares_value(F, Y))
        reference = quadratic.null_value(Y)
        tiny = torch.finfo(F.dtype).tiny
        gap = (primal - dual).clamp_min(0)
        gap = torch.where(reference > tiny, gap / reference.clamp_min(tiny), gap)
        return gap, correlations

    # -- optimality conditions on the active set (implicit differentiation, Newton polish) ---
    @staticmethod
    def active(B: Tensor, *params: Tensor) -> Tensor:
        """Mask ``(..., m, k)`` of the coordinates of nonzero groups (the support)."""
        if B.shape[-1] == 1:  # the Lasso: the nonzero coordinates
            return (B != 0).to(B.dtype)
        return (group_norm(B) > 0).unsqueeze(-1).expand_as(B).to(B.dtype)

    @classmethod
    def stationarity(cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        """Gradient of ``P`` on the support, ``grad f + lam B_j / ||B_j||``, zero elsewhere.

        It vanishes at the solution; differentiated with respect to ``(F, Y, lam)`` it gives the
        right-hand side of the implicit-function theorem.
        """
        norm = group_norm(B)
        on = norm > 0
        direction = B / torch.where(on, norm, torch.ones_like(norm)).unsqueeze(-1)
        grad = quadratic.gradient(B, F, Y) + lam[..., None, None] * direction
        return cls.active(B) * grad

    @classmethod
    def stationarity_vjp(
        cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor, u: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``u``'s vector-Jacobian product with :meth:`stationarity` in ``(F, Y, lam)``.

        In closed form (what ``torch.func.vjp`` of :meth:`stationarity` gives, without its
        tracing overhead): with ``u`` restricted to the support and ``R = F B - Y``,
        ``dF = (R u^T + F u B^T) / n``, ``dY = -F u / n``, ``dlam = <u, B_j / ||B_j||>``.
        """
        u = cls.active(B) * u
        dF, dY = quadratic.gradient_vjp(B, F, Y, u)
        if B.shape[-1] == 1:  # the Lasso: B_j / |B_j| = sign(B_j)
            direction = torch.sign(B)
        else:
            norm = group_norm(B)
            direction = B / torch.where(norm > 0, norm, torch.ones_like(norm)).unsqueeze(-1)
        return dF, dY, (u * direction).sum((-2, -1))

    @classmethod
    def reduced_hessian(cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        """Jacobian of :meth:`stationarity` in ``B`` restricted to the support, ``(..., mk, mk)``.

        On the support it is ``G ⊗ I_k + lam * blockdiag((I - u_j u_j^T) / ||B_j||)`` with
        ``u_j = B_j / ||B_j||`` (the curvature term vanishes for the Lasso, k = 1); off the
        support it is the identity, so the system has a fixed shape under batching (masks, not
        ragged tensors) and inactive coordinates get a zero solution.
        """
        m, k = B.shape[-2:]
        mask = cls.active(B).reshape(*B.shape[:-2], m * k)
        eye = torch.eye(m * k, dtype=B.dtype, device=B.device)
        if k == 1:  # the Lasso: no curvature, the Gram matrix on the support
            H = quadratic.gram(F)
            return mask.unsqueeze(-1) * H * mask.unsqueeze(-2) + eye * (1 - mask).unsqueeze(-1)
        norm = group_norm(B)
        on = norm > 0
        safe = torch.where(on, norm, torch.ones_like(norm))
        u = B / safe.unsqueeze(-1)
        eye_k = torch.eye(k, dtype=B.dtype, device=B.device)
        curvature = (eye_k - u.unsqueeze(-1) * u.unsqueeze(-2)) / safe[..., None, None]
        curvature = curvature * (lam[..., None] * on)[..., None, None]  # (..., m, k, k)
        H = quadratic.hessian(F, k) + block_diagonal(curvature)
        return mask.unsqueeze(-1) * H * mask.unsqueeze(-2) + eye * (1 - mask).unsqueeze(-1)

    @classmethod
    def restrict(cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor):
        """The same problem on the support of ``B`` only, padded to the largest support.

        Returns ``B_S (..., s, k)``, its parameters ``(F_S, Y, lam)`` with ``F_S (..., n, s)``
        (padding columns are zero, so padded rows stay inactive), and a map from a solution of
        the restricted problem back to ``(..., m, k)``. Used by the Newton polish and the
        implicit backward, so that a system costs ``O(n s^2 + (sk)^3)`` instead of
        ``O(n m^2 + (mk)^3)``.
        """
        B_S, F_S, _take, expand = _on_support(B, F)
        return B_S, (F_S, Y, lam), expand

    @classmethod
    def support_system(cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor):
        """The implicit system on the support only (see ``backward/implicit.py``).

        Returns the reduced Hessian of the restricted problem ``(..., sk, sk)``, its support
        mask ``(..., sk)``, a map taking a ``(..., m, k)`` tensor to the support's rows
        ``(..., s, k)`` and the map back (zeros off the support).
        """
        B_S, F_S, take, expand = _on_support(B, F)
        mask = cls.active(B_S).reshape(*B_S.shape[:-2], -1)
        return cls.reduced_hessian(B_S, F_S, Y, lam), mask, take, expand

    @classmethod
    def solve_support(cls, X: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        """``z`` with ``H z = v`` on the support; a small system (``m k <= GATHER_ABOVE``) is
        formed at full size, a larger one on the gathered support (:meth:`support_system`)."""
        m, k = X.shape[-2:]
        if m * k <= GATHER_ABOVE:
            H, mask = cls.reduced_hessian(X, *params), cls.active(X, *params)
            flat = (*X.shape[:-2], m * k)
            return solve_masked(H, mask.reshape(flat), v.reshape(flat)).reshape(v.shape)
        return solve_system(cls.support_system(X, *params), v)

    # -- reference formulation ---------------------------------------------------------------
    @staticmethod
    def cvxpy_problem(n: int, m: int, k: int) -> tuple[cvxpy.Problem, list, list]:
        """The same problem in cvxpy (DPP), with parameters ``[F, Y, lam]`` and variable ``B``."""
        return _cvxpy_group_lasso(n, m, k)


def _on_support(B: Tensor, F: Tensor):
    """Gather the nonzero groups of every task first (``ops/gather.py``), padded to the largest
    support ``s`` of the batch: ``B_S (..., s, k)`` and ``F_S (..., n, s)`` (zero on the
    padding), a map from ``(..., m, k)`` tensors to their support rows and the map back."""
    order, keep = active_first(group_norm(B) > 0)
    keep = keep.to(B.dtype).unsqueeze(-1)  # (..., s, 1)
    F_S = take_columns(F, order) * keep.mT

    def take(V: Tensor) -> Tensor:
        return take_rows(V, order) * keep

    def expand(solution: Tensor) -> Tensor:
        return put_rows(B, order, solution * keep)

    return take(B), F_S, take, expand


@lru_cache(maxsize=32)
def _cvxpy_group_lasso(n: int, m: int, k: int):
    import cvxpy as cp

    return quadratic.cvxpy_form(n, m, k, lambda B, lam: lam * cp.sum(cp.norm(B, 2, axis=1)))


GROUP_LASSO = GroupLasso()
