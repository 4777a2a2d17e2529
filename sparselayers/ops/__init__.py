"""Elementary operators shared by problems, solvers and backward modes."""

from sparselayers.ops.prox import block_soft_threshold, group_norm

__all__ = ["block_soft_threshold", "group_norm"]
