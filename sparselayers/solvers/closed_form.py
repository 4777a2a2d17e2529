"""A problem's own closed form (``problem.solve``), certified by its duality gap like the rest."""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.problems.protocols import ClosedFormProblem
from sparselayers.solvers.options import Params, Result, SolverOptions


def solve_closed_form(
    problem: ClosedFormProblem, params: Params, options: SolverOptions, warm_start: Tensor | None
) -> Result:
    """``(X, gap, n_iter = 0, gap <= tol)`` on flattened tasks; the warm start is not needed."""
    X = problem.solve(*params)
    gap = problem.relative_gap(X, *params)
    n_iter = torch.zeros(gap.shape, dtype=torch.int64, device=gap.device)
    return X, gap, n_iter, gap <= options.tol
