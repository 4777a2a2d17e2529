"""Ridge regression — the inner problem of inner-Ridge and of outer-Lasso (Problem 62).

    P(B) = 1/(2n) ||Y - F B||_F^2 + (lam/2) ||B||_F^2

with ``F (..., n, m)``, ``Y (..., n, k)``, ``B = W^T (..., m, k)``, one ``lam (...)`` per task.
The relative scale of the paper's code is ``lam_max = ||F||_F^2 / n``.

Dual: ``D(theta) = <Y, theta> - (n/2)||theta||^2 - ||F^T theta||^2 / (2 lam)`` at ``theta = R / n``
(exact at the optimum, where ``F^T R / n = lam B``); for ``lam = 0`` the least-squares value.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from sparselayers.ops.linear import solve_symmetric
from sparselayers.ops.support_solve import solve_system
from sparselayers.problems import quadratic


class Ridge(quadratic.LeastSquaresProblem):
    """Stateless description of ridge regression (see the module docstring)."""

    name = "ridge"

    @staticmethod
    def project(B: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        return v

    @staticmethod
    def restrict(B: Tensor, *params: Tensor):
        """Every coordinate is active: the restriction is the problem itself."""
        return B, params, lambda solution: solution

    @staticmethod
    def lambda_max(F: Tensor, Y: Tensor) -> Tensor:
        """The paper's scale for a relative ``lam``: ``||F||_F^2 / n``, shape ``(...)``."""
        return (F * F).sum((-2, -1)) / F.shape[-2]

    @staticmethod
    def solve(F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        """Closed form, through the smaller of the two normal systems.

        ``B = (G + lam I)^{-1} F^T Y / n`` if ``m <= n``, else
        ``B = F^T (F F^T / n + lam I)^{-1} Y / n`` (the minimum-norm least-squares solution when
        ``lam = 0``). Cholesky, or the pseudo-inverse for a singular system
        (`sparselayers.ops.linear`: no LU). Differentiable where the system is definite.
        """
        n, m = F.shape[-2:]
        shift = lam[..., None, None]
        if m <= n:
            system = quadratic.gram(F) + shift * torch.eye(m, dtype=F.dtype, device=F.device)
            return solve_symmetric(system, F.mT @ Y / n)
        system = F @ F.mT / n + shift * torch.eye(n, dtype=F.dtype, device=F.device)
        return F.mT @ solve_symmetric(system, Y) / n

    @staticmethod
    def lipschitz(F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.lipschitz(F) + lam

    @staticmethod
    def smooth_gradient(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.gradient(B, F, Y) + lam[..., None, None] * B

    @staticmethod
    def prox(V: Tensor, step: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return V

    @staticmethod
    def objective(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.value(B, F, Y) + lam / 2 * (B * B).sum((-2, -1))

    @staticmethod
    def relative_gap(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        n = F.shape[-2]
        R = Y - quadratic.times(F, B)
        primal = (R * R).sum((-2, -1)) / (2 * n) + lam / 2 * (B * B).sum((-2, -1))
        theta = R / n
        regularized = lam > 0
        safe_lam = torch.where(regularized, lam, torch.ones_like(lam))
        FtT = quadratic.transposed_times(F, theta)
        dual = (Y * theta).sum((-2, -1)) - n / 2 * (theta * theta).sum((-2, -1))
        dual = dual - (FtT * FtT).sum((-2, -1)) / (2 * safe_lam)
        if not bool(regularized.all()):
            dual = torch.where(regularized, dual, quadratic.least_squares_value(F, Y))
        reference = quadratic.null_value(Y)
        tiny = torch.finfo(F.dtype).tiny
        gap = (primal - dual).clamp_min(0)
        return torch.where(reference > tiny, gap / reference.clamp_min(tiny), gap)

    @staticmethod
    def active(B: Tensor, *params: Tensor) -> Tensor:
        return torch.ones_like(B)

    @staticmethod
    def stationarity(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        return quadratic.gradient(B, F, Y) + lam[..., None, None] * B

    @staticmethod
    def stationarity_vjp(
        B: Tensor, F: Tensor, Y: Tensor, lam: Tensor, u: Tensor
    ) -> tuple[Tensor, Tensor, Tensor]:
        """``u``'s vector-Jacobian product with :meth:`stationarity` in ``(F, Y, lam)``:
        with ``R = F B - Y``, ``dF = (R u^T + F u B^T) / n``, ``dY = -F u / n``,
        ``dlam = <u, B>``."""
        dF, dY = quadratic.gradient_vjp(B, F, Y, u)
        return dF, dY, (u * B).sum((-2, -1))

    @staticmethod
    def reduced_hessian(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        m, k = B.shape[-2:]
        eye = torch.eye(m * k, dtype=B.dtype, device=B.device)
        return quadratic.hessian(F, k) + lam[..., None, None] * eye

    @classmethod
    def support_system(cls, B: Tensor, F: Tensor, Y: Tensor, lam: Tensor):
        """The implicit system: every coordinate is active, so the reduced Hessian itself,
        ``(..., mk, mk)``, a mask of ones and identity maps."""
        mask = torch.ones(
            B.shape[:-2] + (B.shape[-2] * B.shape[-1],), dtype=B.dtype, device=B.device
        )
        return cls.reduced_hessian(B, F, Y, lam), mask, _identity, _identity

    @classmethod
    def solve_support(cls, X: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        return solve_system(cls.support_system(X, *params), v)

    @staticmethod
    def cvxpy_problem(n: int, m: int, k: int):
        return _cvxpy_ridge(n, m, k)


@lru_cache(maxsize=32)
def _cvxpy_ridge(n: int, m: int, k: int):
    import cvxpy as cp

    return quadratic.cvxpy_form(n, m, k, lambda B, lam: lam / 2 * cp.sum_squares(B))


def _identity(X: Tensor) -> Tensor:
    return X


RIDGE = Ridge()
