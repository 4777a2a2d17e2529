"""Batched forward solvers. Each returns ``(B, gap, n_iter, converged)`` per task."""

from sparselayers.solvers.apg import SolverOptions, solve_apg
from sparselayers.solvers.polish import newton_step

__all__ = ["SolverOptions", "newton_step", "solve_apg"]
