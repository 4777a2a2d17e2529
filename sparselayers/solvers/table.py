"""Which forward solver serves which problem: the one table of the library.

- ``lasso`` (group Lasso, one output): active-set (Newton) iterations, then the path, then
  FISTA (``lasso.py``);
- ``group_lasso`` (k outputs): FISTA on working sets of groups, then on all (``working_set.py``);
- ``ridge``: its closed form (``closed_form.py``);
- ``svm_features`` (SVM dual in feature form, ``lam1 >= 0``): projected FISTA on working sets of
  columns (``svm_working_set.py``);
- ``svm_kernel`` (kernel form, ``lam1 = 0``): projected FISTA, then coordinate descent over
  samples (``sample_bcd.py``).

The unrolled backward always differentiates through FISTA (``apg.py``), the reference backward
through cvxpy (``backward/``). Every solver stops each task on its own relative duality gap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from torch import Tensor

from sparselayers.ops.inference import without_autograd
from sparselayers.ops.threads import small_products
from sparselayers.problems import CRAMMER_SINGER, GROUP_LASSO, GROUP_LASSO_SVM, RIDGE
from sparselayers.problems.protocols import Problem
from sparselayers.solvers.batching import run_on_flat_tasks
from sparselayers.solvers.closed_form import solve_closed_form
from sparselayers.solvers.lasso import solve_lasso
from sparselayers.solvers.options import SolverOptions
from sparselayers.solvers.sample_bcd import solve_kernel_dual
from sparselayers.solvers.svm_working_set import solve_column_working_sets
from sparselayers.solvers.working_set import solve_working_sets

Kind = Literal["lasso", "group_lasso", "ridge", "svm_features", "svm_kernel"]
Result = tuple[Tensor, Tensor, Tensor, Tensor]
Loop = Callable[[Problem, tuple[Tensor, ...], SolverOptions, Tensor | None], Result]


@dataclass(frozen=True)
class Entry:
    """A row of the table: the problem, its solver on flattened tasks ``(T, ...)``, and what
    the solver's budget ``max_iter`` counts (for the warning when a task misses ``tol``)."""

    problem: Problem
    loop: Loop
    budget: str = "within max_iter={max_iter} iterations"


FORWARD: dict[str, Entry] = {
    "lasso": Entry(
        GROUP_LASSO,
        solve_lasso,
        "within max_iter={max_iter} active-set iterations, path steps and iterations",
    ),
    "group_lasso": Entry(GROUP_LASSO, solve_working_sets),
    "ridge": Entry(RIDGE, solve_closed_form, "by its closed form, in this precision"),
    "svm_features": Entry(GROUP_LASSO_SVM, solve_column_working_sets),
    "svm_kernel": Entry(
        CRAMMER_SINGER, solve_kernel_dual, "within max_iter={max_iter} iterations, then epochs"
    ),
}


@dataclass(frozen=True)
class ForwardSolver:
    """``solver(params, warm_start) -> (X, gap, n_iter, converged)`` per task, without autograd.

    Checks the parameters (``problem.validate``), flattens the task dims, runs the table's
    solver (in inference mode, ``ops/inference.py``; a small problem's products on one MKL
    thread, ``ops/threads.py``) and warns, with the largest gap reached, when some task missed
    ``options.tol``.
    """

    entry: Entry
    options: SolverOptions

    @property
    def problem(self) -> Problem:
        return self.entry.problem

    def __call__(self, params: tuple[Tensor, ...], warm_start: Tensor | None) -> Result:
        self.problem.validate(*params)
        with small_products(params[0]):
            return without_autograd(
                run_on_flat_tasks,
                self.entry.loop,
                self.problem,
                params,
                self.options,
                warm_start,
                self.entry.budget,
            )


def forward_solver(kind: Kind, options: SolverOptions) -> ForwardSolver:
    """The forward solver of ``kind`` (a row of :data:`FORWARD`) with stopping rule ``options``."""
    return ForwardSolver(FORWARD[kind], options)
