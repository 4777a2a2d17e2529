"""Solver callables used by the functional forms: ``solver(problem, params, warm_start)``
returns ``(solution, gap, n_iter, converged)`` after checking the parameters' values."""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch
from torch import Tensor

from sparselayers._validation import check_values
from sparselayers.solvers.apg import SolverOptions, solve_apg
from sparselayers.solvers.sample_bcd import solve_sample_bcd
from sparselayers.solvers.working_set import solve_working_set

Result = tuple[Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class IterativeSolver:
    """Accelerated proximal gradient, run without autograd (its result is then differentiated
    implicitly) or with it (``differentiable=True``: the unrolled backward)."""

    options: SolverOptions
    differentiable: bool = False

    def __call__(self, problem, params: tuple[Tensor, ...], warm_start: Tensor | None) -> Result:
        check_values(**dict(zip(problem.param_names, params, strict=True)))
        problem.validate(*params)
        if self.differentiable:
            return solve_apg(problem, params, self.options, warm_start, differentiable=True)
        with torch.no_grad():
            if getattr(problem, "working_sets", False):
                return solve_working_set(problem, params, self.options, warm_start)
            return solve_apg(problem, params, self.options, warm_start)


@dataclass(frozen=True)
class ClosedFormSolver:
    """A problem's own closed form (``problem.solve``), certified by its duality gap."""

    options: SolverOptions

    def __call__(self, problem, params: tuple[Tensor, ...], warm_start: Tensor | None) -> Result:
        check_values(**dict(zip(problem.param_names, params, strict=True)))
        problem.validate(*params)
        B = problem.solve(*params)
        with torch.no_grad():
            gap = problem.relative_gap(B, *params)
        n_iter = torch.zeros(gap.shape, dtype=torch.int64, device=gap.device)
        return B, gap, n_iter, gap <= self.options.tol


@dataclass(frozen=True)
class AcceleratedThenCoordinateSolver:
    """Accelerated projected gradient for a fixed budget, then block coordinate descent over
    samples for the tasks it has not finished (the SVM duals in kernel form).

    Measured on 8 tasks of 15-shot 5-way heads: on class-clustered features projected gradient
    converges in a few hundred cheap iterations (10x faster than coordinate descent, whose
    epochs are a Python loop over the samples), while on non-negative correlated (ReLU)
    features it needs thousands, where coordinate descent needs tens of epochs. ``n_iter``
    counts both: iterations, plus epochs for the tasks handed over. Values (NaN/Inf) are checked
    by ``problem.validate``: the kernel dual checks ``K`` rather than the ``O(nm)`` features.
    """

    options: SolverOptions
    accelerated_iterations: int = 300

    def __call__(self, problem, params: tuple[Tensor, ...], warm_start: Tensor | None) -> Result:
        problem.validate(*params)
        budget = replace(
            self.options, max_iter=min(self.accelerated_iterations, self.options.max_iter)
        )
        last = budget.max_iter == self.options.max_iter  # no coordinate descent afterwards
        with torch.no_grad():
            X, gap, n_iter, done = solve_apg(problem, params, budget, warm_start, warn=last)
            if bool(done.all()) or last:
                return X, gap, n_iter, done
            X, gap, epochs, done = solve_sample_bcd(problem, params, self.options, warm_start=X)
        return X, gap, n_iter + epochs, done
