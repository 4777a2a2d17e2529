"""One place that maps ``backward=`` to a solve: implicit, unrolled, or the cvxpy reference."""

from __future__ import annotations

from collections.abc import Callable

from torch import Tensor

from sparselayers.backward.implicit import implicit_solve
from sparselayers.backward.reference import reference_solve
from sparselayers.solvers.apg import SolverOptions
from sparselayers.solvers.direct import IterativeSolver


def solve(
    problem,
    params: tuple[Tensor, ...],
    *,
    backward: str,
    options: SolverOptions,
    warm_start: Tensor | None = None,
    forward: Callable | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Solve ``problem`` at ``params`` with the backward mode asked for (already validated).

    ``forward`` is the solver used (without autograd) in implicit mode; by default accelerated
    proximal gradient. The unrolled mode always differentiates through accelerated proximal
    gradient, the reference mode through cvxpy.
    """
    if backward == "implicit":
        return implicit_solve(problem, forward or IterativeSolver(options), params, warm_start)
    if backward == "unroll":
        return IterativeSolver(options, differentiable=True)(problem, params, warm_start)
    return reference_solve(problem, params, options.tol)
