"""The stopping rule every forward solver takes."""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, replace

import torch
from torch import Tensor

Params = tuple[Tensor, ...]
"""A problem's parameters, task dims in front (flattened to one inside the solvers)."""
Result = tuple[Tensor, Tensor, Tensor, Tensor]
"""What every solver returns: the solution, the relative gap, iterations, converged."""


@dataclass(frozen=True)
class SolverOptions:
    """Stopping rule of the iterative solvers.

    Attributes:
        tol: a task stops once its relative duality gap ``(P - D) / P(0)`` is ``<= tol``.
        max_iter: iteration budget; reaching it warns with the largest gap reached.
        check_every: the gap (and the support polish) is evaluated every this many iterations.
        polish_steps: Newton steps on the support per polish attempt (0 disables polishing).
    """

    tol: float = 1e-6
    max_iter: int = 5000
    check_every: int = 10
    polish_steps: int = 3

    def __post_init__(self) -> None:
        if not (isinstance(self.tol, (int, float)) and math.isfinite(self.tol) and self.tol > 0):
            raise ValueError(f"tol must be a positive finite float, got {self.tol!r}")
        if not (isinstance(self.max_iter, int) and self.max_iter >= 1):
            raise ValueError(f"max_iter must be a positive int, got {self.max_iter!r}")
        if not (isinstance(self.check_every, int) and self.check_every >= 1):
            raise ValueError(f"check_every must be a positive int, got {self.check_every!r}")
        if not (isinstance(self.polish_steps, int) and self.polish_steps >= 0):
            raise ValueError(f"polish_steps must be a non-negative int, got {self.polish_steps!r}")


def certifiable_tol(dtype: torch.dtype) -> float:
    """The smallest relative duality gap the solvers stop on in ``dtype``: ``4 eps``
    (4.8e-7 in float32, 8.9e-16 in float64). Gaps are differences of objectives computed in
    ``dtype``; below a few ``eps`` the certificate is rounding, and asking for less made float32
    solves run to ``max_iter`` (and, before the best point was kept, end on a worse point)."""
    return 4 * torch.finfo(dtype).eps


def for_dtype(options: SolverOptions, dtype: torch.dtype, caller: str) -> SolverOptions:
    """``options`` with ``tol`` raised to :func:`certifiable_tol` of ``dtype``, warning (as
    ``caller``) when it was below."""
    floor = certifiable_tol(dtype)
    if options.tol >= floor:
        return options
    warnings.warn(
        f"{caller}: tol={options.tol:g} is below the relative duality gap that "
        f"{str(dtype).removeprefix('torch.')} can certify ({floor:.1e}); solving to {floor:.1e} "
        "(pass float64 inputs for a tighter certificate)",
        RuntimeWarning,
        stacklevel=4,
    )
    return replace(options, tol=floor)
