"""Newton steps on the support: turn an iterate with the right support into the exact solution.

Proximal-gradient methods identify the support long before they reach high accuracy. Once the
support is fixed, the optimality conditions are smooth equations on it (for the Lasso a linear
system ``G_SS w_S = F_S^T y / n - lam sign(w_S)``), so a Newton step on the reduced system —
the same system the implicit backward solves — lands on the solution, with exact zeros off the
support. For the Lasso one step is exact; group curvature needs a few.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.problems.protocols import ActiveSetProblem
from sparselayers.solvers.batching import rows
from sparselayers.solvers.options import SolverOptions


def newton_step(problem: ActiveSetProblem, B: Tensor, params: tuple[Tensor, ...]) -> Tensor:
    """One Newton step on ``problem.stationarity`` restricted to the support of ``B``.

    Tasks whose reduced Hessian is singular are returned unchanged; the caller accepts a
    candidate only where its duality gap improves.
    """
    X, sub, expand = problem.restrict(B, *params)
    delta, ok = problem.solve_support_checked(X, problem.stationarity(X, *sub), *sub)
    return torch.where(ok[..., None, None], expand(X - delta), B)


def polish_tasks(
    problem: ActiveSetProblem,
    X: Tensor,
    gap: Tensor,
    params: tuple[Tensor, ...],
    selected: Tensor,
    options: SolverOptions,
) -> tuple[Tensor, Tensor, Tensor]:
    """Newton steps on the support for the ``selected`` tasks.

    A candidate replaces the iterate only if it meets the tolerance: on the right support it
    is the solution to working precision, and on a wrong one (a feature about to leave or
    enter) it is discarded, so FISTA is never pulled back to a point it had left (accepting
    mere improvements of the gap can make FISTA and the polish cycle).
    Returns ``X``, ``gap`` and the mask of tasks whose iterate was replaced.
    """
    accepted = torch.zeros_like(selected)
    index = selected.nonzero().squeeze(-1)
    if index.numel() == 0:
        return X, gap, accepted
    sub = rows(index, *params)  # no copy when every task is selected (F may be large)
    B, B_gap = rows(index, X, gap)
    best, best_gap = B, B_gap
    taken = torch.zeros_like(B_gap, dtype=torch.bool)
    for _ in range(options.polish_steps):
        candidate = newton_step(problem, B, sub)
        candidate_gap = problem.relative_gap(candidate, *sub)
        good = candidate_gap <= options.tol
        best = torch.where(good[:, None, None], candidate, best)
        best_gap = torch.where(good, candidate_gap, best_gap)
        taken = taken | good
        # Further Newton steps only where the gap still falls and the tolerance is not met.
        improving = (candidate_gap < B_gap) & ~taken
        B = torch.where(improving[:, None, None], candidate, B)
        B_gap = torch.where(improving, candidate_gap, B_gap)
        if not bool(improving.any()):
            break
    accepted[index] = taken
    return X.index_copy(0, index, best), gap.index_copy(0, index, best_gap), accepted
