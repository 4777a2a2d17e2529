"""What a problem offers, as protocols: every solver and backward mode is typed by the one it needs.

A problem is stateless; its methods take the variable ``X`` (``B (..., m, k)`` for the
regressions, the dual ``Λ (..., n, k)`` for the SVM heads) and the parameters ``*params``, a
tuple of tensors with the task dims in front, whose names (in order) are ``param_names``:
``(features, targets, lam)`` for the regressions, ``(features, labels, lam1, lam2)`` and
``(features, kernel, labels, lam2)`` for the two SVM duals.

- :class:`Problem` (every solver): parameters, checks, start, certificate (relative gap);
- :class:`ProximalProblem` (``solvers/apg.py``): the smooth part's gradient and Lipschitz bound,
  and the prox;
- :class:`ActiveSetProblem` (``backward/implicit.py``, ``solvers/polish.py``): the optimality
  map on the active set and its Jacobians;
- :class:`PrimalMapProblem` (``backward/implicit.py``): a dual whose primal solution is the
  output, differentiated together with the dual (the SVM heads);
- :class:`CvxpyProblem` (``backward/reference.py``): the same problem in cvxpy;
- :class:`ClosedFormProblem` (``solvers/closed_form.py``, ridge): an exact solution.

How a problem is solved (which algorithm, working sets, budgets, cost models) belongs to the
solvers (``solvers/table.py``), not to the problem.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class Problem(Protocol):
    """A convex problem per task, certified by its relative duality gap."""

    name: str
    param_names: tuple[str, ...]

    def validate(self, *params: Tensor) -> None:
        """Raise a ``ValueError`` naming the argument for NaN/Inf or out-of-domain values."""

    def initial(self, *params: Tensor) -> Tensor:
        """The solvers' default start."""

    def relative_gap(self, X: Tensor, *params: Tensor) -> Tensor:
        """``(P - D) / P(0)`` per task, ``(...)``: zero certifies optimality."""

    def prox(self, V: Tensor, step: Tensor, *params: Tensor) -> Tensor:
        """Proximal map (or projection onto the domain) of the nonsmooth part, ``step (...)``."""


@runtime_checkable
class ProximalProblem(Problem, Protocol):
    """Smooth + proximable: what (accelerated) proximal gradient needs."""

    def lipschitz(self, *params: Tensor) -> Tensor:
        """A Lipschitz constant of the smooth part's gradient per task, ``(...)``."""

    def smooth_gradient(self, X: Tensor, *params: Tensor) -> Tensor:
        """Gradient of the smooth part, shaped like ``X`` (plain operations: unrolling
        differentiates them)."""


@runtime_checkable
class ActiveSetProblem(Problem, Protocol):
    """Optimality conditions restricted to the active set: what the implicit backward and the
    Newton polish need. The active set (a support, the faces of simplices) is locally constant
    at a solution; there the stationarity map ``Φ(X, params)`` vanishes."""

    def active(self, X: Tensor, *params: Tensor) -> Tensor:
        """Mask shaped like ``X``, 1 on the active coordinates."""

    def project(self, X: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        """Projection of ``v`` onto the tangent space of ``X``'s active set."""

    def stationarity(self, X: Tensor, *params: Tensor) -> Tensor:
        """``Φ(X, params)``, shaped like ``X``; zero at the solution."""

    def stationarity_vjp(self, X: Tensor, *args: Tensor) -> tuple[Tensor | None, ...]:
        """``(*params, u)`` → ``u``'s vector-Jacobian product with ``Φ`` in every parameter,
        in closed form."""

    def reduced_hessian(self, X: Tensor, *params: Tensor) -> Tensor:
        """``∂Φ/∂X`` on the active set, the identity elsewhere, ``(..., d, d)`` with ``d`` the
        size of ``X``'s last two dims."""

    def restrict(self, X: Tensor, *params: Tensor) -> tuple[Tensor, tuple[Tensor, ...], Callable]:
        """The same problem on the active set only (or itself): ``(X_S, params_S, expand)``."""

    def support_system(
        self, X: Tensor, *params: Tensor
    ) -> tuple[Tensor, Tensor, Callable[[Tensor], Tensor], Callable[[Tensor], Tensor]]:
        """The implicit system ``(A, mask, take, put)``: ``A (..., d, d)`` on the active set
        (possibly gathered to it, then ``take`` maps ``X``-shaped tensors there and ``put``
        back), and its active mask ``(..., d)``."""

    def solve_support(self, X: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        """``z`` with ``∂Φ/∂X z = v`` on the active set (``v`` and ``z`` shaped like ``X``):
        the solve of the implicit backward. Forming :meth:`support_system` and solving it
        (``ops.support_solve.solve_system``), or matrix-free where forming costs more."""

    def solve_support_checked(self, X: Tensor, v: Tensor, *params: Tensor) -> tuple[Tensor, Tensor]:
        """``(z, ok)``: :meth:`solve_support` without its fallback, ``ok`` per task where the
        system was solvable: the Newton polish's solve, which leaves the other tasks as they
        are."""


@runtime_checkable
class PrimalMapProblem(ActiveSetProblem, Protocol):
    """A dual problem whose primal solution ``W = primal(X, *params)`` is what callers use, with
    the vector-Jacobian products of ``W`` and of the solution ``X`` taken together: where both
    reach a large parameter (the features), one product with it replaces three (see
    ``backward/implicit.py``, :class:`ImplicitPrimalSolve`)."""

    def primal(self, X: Tensor, *params: Tensor) -> Tensor:
        """The primal solution at the dual solution ``X``."""

    def primal_cotangent(self, X: Tensor, W: Tensor, grad_W: Tensor, *params: Tensor) -> Tensor:
        """``∂<grad_W, primal(X)>/∂X``, shaped like ``X``."""

    def joint_vjp(
        self, X: Tensor, W: Tensor, grad_W: Tensor | None, u: Tensor, *params: Tensor
    ) -> tuple[Tensor | None, ...]:
        """Per parameter, ``u``'s vector-Jacobian product with the stationarity map plus
        ``grad_W``'s with ``primal`` (at fixed ``X``), in closed form."""

    def on_primal_support(
        self, W: Tensor, grad_W: Tensor | None, *params: Tensor
    ) -> tuple[Tensor, Tensor | None, tuple[Tensor, ...], Callable[..., tuple[Tensor | None, ...]]]:
        """``(W, grad_W, params, expand)`` restricted to what the backward reads (the SVM
        head's active columns), with ``expand`` mapping :meth:`joint_vjp` on the restriction
        to the gradients of ``params``; the problem itself where nothing is saved."""


@runtime_checkable
class CvxpyProblem(Problem, Protocol):
    """The problem in cvxpy (DPP), for the reference backward."""

    def cvxpy_sizes(self, *params: Tensor) -> tuple[int, ...]:
        """The sizes the cvxpy form is built (and cached) for."""

    def cvxpy_arguments(self, *params: Tensor) -> tuple[Tensor, ...]:
        """The tensors bound to the cvxpy parameters, task dims in front."""

    def cvxpy_problem(self, *sizes: int) -> tuple[Any, list, list]:
        """``(cvxpy.Problem, parameters, variables)``."""


@runtime_checkable
class ClosedFormProblem(Problem, Protocol):
    """A problem with an exact solution in closed form."""

    def solve(self, *params: Tensor) -> Tensor:
        """The solution, shaped like ``initial(*params)``."""
