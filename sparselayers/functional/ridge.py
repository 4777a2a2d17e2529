"""Functional ridge-regression layer."""

from __future__ import annotations

from torch import Tensor

from sparselayers.backward.modes import Backward
from sparselayers.functional._regression import solve_regression
from sparselayers.solution import RegressionSolution
from sparselayers.solvers.options import SolverOptions


def ridge(
    features: Tensor,
    targets: Tensor,
    lam: float | Tensor,
    *,
    relative: bool = False,
    backward: Backward = "implicit",
    tol: float = 1e-6,
    max_iter: int = 5000,
) -> RegressionSolution:
    r"""Solve a batch of ridge regressions, differentiably.

    .. math::
        W^\star = \arg\min_W \frac{1}{2n}\|Y - F W^\top\|_F^2 + \frac{\lambda}{2}\|W\|_F^2

    The inner problem of the paper's inner-Ridge baseline and, with ``lam = 0`` (least squares),
    of outer-Lasso (Problem 62). Solved in closed form through the smaller of the two normal
    systems (``m x m`` or ``n x n``); ``backward="unroll"`` instead runs accelerated gradient
    descent with autograd, for comparison.

    Args:
        features: ``F (..., n, m)``.
        targets: ``Y (..., n)`` or ``(..., n, k)``.
        lam: ``λ >= 0``, float or tensor broadcastable to ``(...)``; ``λ = 0`` with ``m > n``
            gives the minimum-norm least-squares solution.
        relative: ``λ = lam * ||F||_F^2 / n`` per task, detached (the paper's code).
        backward: ``"implicit"``, ``"unroll"`` or ``"cvxpy"``.
        tol: duality-gap tolerance certifying the solve (and stopping the unrolled iterations).
            A ``tol`` below what the dtype can certify (``4 eps``: 4.8e-7 in float32) is
            raised to it, with a warning.
        max_iter: iteration budget of the unrolled mode.

    Returns:
        :class:`~sparselayers.RegressionSolution` (weights ``(..., m)`` or ``(..., k, m)``).
    """
    return solve_regression(
        "ridge",
        features,
        targets,
        lam,
        relative=relative,
        backward=backward,
        options=SolverOptions(tol=tol, max_iter=max_iter),
        warm_start=None,
    )
