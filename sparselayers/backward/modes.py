"""The backward modes: ``backward=`` is parsed once into one of these, and solves through it.

- ``"implicit"``, :class:`Implicit`: the table's forward solver (``solvers/table.py``) without
  autograd, then implicit differentiation on the active set (``implicit.py``);
- ``"unroll"``, :class:`Unroll`: FISTA with autograd on (``solvers/apg.py``), differentiated
  through its iterations;
- ``"cvxpy"``, :class:`Reference`: cvxpy / SCS, differentiated by diffcp (``reference.py``);
  float64 on the CPU only.

All three return ``(X, gap, n_iter, converged)`` per task and warn, with the gap reached, when a
task misses ``tol``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from torch import Tensor

from sparselayers.backward.implicit import ImplicitPrimalSolve, ImplicitSolve
from sparselayers.backward.reference import reference_solve
from sparselayers.ops.threads import small_products
from sparselayers.solvers.apg import solve_apg
from sparselayers.solvers.table import ForwardSolver

Backward = Literal["implicit", "unroll", "cvxpy"]
"""The values of the ``backward=`` argument of every layer and functional form."""

Result = tuple[Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class Implicit:
    """The forward solver without autograd, then implicit differentiation of its solution."""

    def solve(self, solver: ForwardSolver, params: tuple[Tensor, ...], warm: Tensor | None):
        return ImplicitSolve.apply(solver, warm, *params)

    def solve_primal(self, solver: ForwardSolver, params: tuple[Tensor, ...], warm: Tensor | None):
        """``(X, W, gap, n_iter, converged)`` for a :class:`PrimalMapProblem`: the primal
        solution ``W`` differentiated with ``X`` in one pass (``implicit.py``)."""
        return ImplicitPrimalSolve.apply(solver, warm, *params)


@dataclass(frozen=True)
class Unroll:
    """FISTA with autograd on (no Newton polish): gradients are those of the iterations."""

    def solve(self, solver: ForwardSolver, params: tuple[Tensor, ...], warm: Tensor | None):
        try:
            solver.problem.validate(*params)
            with small_products(params[0]):  # ops/threads.py (the forward iterations)
                return solve_apg(solver.problem, params, solver.options, warm, differentiable=True)
        except RuntimeError as err:
            if "vmap" not in str(err):
                raise
            # The checks and the iterations (each task stops on its gap) are data-dependent
            # control flow, which torch.func.vmap cannot trace; the implicit mode has a vmap rule.
            raise ValueError(
                "backward='unroll' does not run under torch.func.vmap (its iterations stop on "
                "each task's duality gap); use backward='implicit', or call the layer on the "
                "batch directly (it is batched over leading dims)"
            ) from err


@dataclass(frozen=True)
class Reference:
    """The problem in cvxpy, differentiated by diffcp: the float64 CPU reference."""

    def solve(self, solver: ForwardSolver, params: tuple[Tensor, ...], warm: Tensor | None):
        return reference_solve(solver.problem, params, solver.options.tol)


Mode = Implicit | Unroll | Reference

MODES: dict[str, Mode] = {"implicit": Implicit(), "unroll": Unroll(), "cvxpy": Reference()}


def parse_backward(backward: Backward) -> Mode:
    """The mode of ``backward``; a ``ValueError`` naming the argument for anything else."""
    if not isinstance(backward, str) or backward not in MODES:
        raise ValueError(f"backward must be one of {get_args(Backward)}, got {backward!r}")
    return MODES[backward]
