"""Backward modes, generic over problems: implicit, unrolled, and the cvxpy/diffcp reference."""

from sparselayers.backward.implicit import implicit_solve, implicit_vjp
from sparselayers.backward.reference import reference_solve

__all__ = ["implicit_solve", "implicit_vjp", "reference_solve"]
