"""Backward modes, generic over problems: implicit, unrolled, and the cvxpy/diffcp reference."""

from sparselayers.backward.modes import Backward, Implicit, Reference, Unroll, parse_backward

__all__ = ["Backward", "Implicit", "Reference", "Unroll", "parse_backward"]
