"""Batched forward solvers; each returns ``(X, gap, n_iter, converged)`` per task.

``table.py`` says which serves which problem.
"""

from sparselayers.solvers.options import SolverOptions
from sparselayers.solvers.table import FORWARD, ForwardSolver, forward_solver

__all__ = ["FORWARD", "ForwardSolver", "SolverOptions", "forward_solver"]
