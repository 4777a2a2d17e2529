"""Implicit differentiation of a problem's optimality conditions on its active set.

At a solution ``B*(θ)`` with support ``S`` the stationarity map ``Φ(B, θ)`` of the problem
(gradient of the objective on ``S``; see ``problems/``) vanishes, and ``S`` is locally constant
for almost every ``θ``. The implicit-function theorem then gives, for an upstream gradient ``v``,

    A z = v_S,        dL/dθ = -(∂Φ/∂θ)^T z,        A = ∂Φ/∂B restricted to S

For the Lasso ``A = G_SS`` (an |S|x|S| system); groups add curvature blocks. ``A`` is kept at
full size with the identity off the support (masks, not ragged tensors), so shapes do not depend
on the data and the backward runs under ``torch.func.vmap``; ``ops/support_solve.py`` then
solves only its active block. A problem that can gather its support first (``support_system``:
the group Lasso) builds ``A`` on the support alone, padded to the largest support of the batch,
so that forming it costs ``O(n s^2)`` rather than ``O(n m^2)``; the gather has a data-dependent
size, so it runs inside an ``autograd.Function`` with its own ``vmap`` rule. The product with
``∂Φ/∂θ`` is ``torch.func.vjp`` of the problem's own ``stationarity``, so nothing here knows
which problem it differentiates, unless the problem gives it in closed form
(``stationarity_vjp``, which skips the tracing overhead).

The forward is a ``torch.autograd.Function`` with ``setup_context`` and a ``vmap`` rule (the
solver is batched over leading dims already, so the rule moves the vmapped dim to the front).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers._vmap import batch_first
from sparselayers.ops.inference import without_autograd
from sparselayers.ops.threads import small_products
from sparselayers.problems.protocols import ActiveSetProblem, PrimalMapProblem
from sparselayers.solvers.table import ForwardSolver


def implicit_vjp(
    problem: ActiveSetProblem, B: Tensor, params: tuple[Tensor, ...], grad_B: Tensor
) -> tuple[Tensor | None, ...]:
    """Vector-Jacobian product of ``B*(params)`` with ``grad_B``, one tensor per parameter."""
    with small_products(params[0]):  # ops/threads.py
        v = problem.project(B, grad_B, *params)  # onto the tangent space of the active set
        z = _CompactSolve.apply(problem, B, v, *params)
        return problem.stationarity_vjp(B, *params, -z)


class _CompactSolve(torch.autograd.Function):
    """``problem.solve_support`` as a function of ``v`` (the system is symmetric, so its
    backward is the same solve), in inference mode (``ops/inference.py``). Gathering the
    support has a data-dependent size, which ``torch.func.vmap`` cannot trace; the ``vmap``
    rule receives concrete tensors instead."""

    @staticmethod
    def forward(problem, B, v, *params):
        return without_autograd(problem.solve_support, B, v, *params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        problem, B, _v, *params = inputs
        ctx.problem = problem
        ctx.save_for_backward(B, *params)

    @staticmethod
    def backward(ctx, grad_z):
        B, *params = ctx.saved_tensors
        grad_v = _CompactSolve.apply(ctx.problem, B, grad_z, *params)
        return None, None, grad_v, *(None for _ in params)

    @staticmethod
    def vmap(info, in_dims, problem, B, v, *params):
        return _CompactSolve.apply(problem, *batch_first(info, in_dims[1:], B, v, *params)), 0


def implicit_primal_vjp(
    problem: PrimalMapProblem,
    X: Tensor,
    W: Tensor,
    params: tuple[Tensor, ...],
    grad_X: Tensor | None,
    grad_W: Tensor | None,
) -> tuple[Tensor | None, ...]:
    """Vector-Jacobian product of ``(X*(params), W = problem.primal(X*, params))`` with
    ``(grad_X, grad_W)``: ``grad_W`` pulled back to ``X`` joins ``grad_X``, the implicit solve
    runs once, and the problem merges the products of both maps with the parameters, all on the
    part of the parameters that ``W`` reaches (``problem.on_primal_support``)."""
    with small_products(params[0]):
        W, grad_W, params, expand = problem.on_primal_support(W, grad_W, *params)
        v = torch.zeros_like(X) if grad_X is None else grad_X
        if grad_W is not None:
            v = v + problem.primal_cotangent(X, W, grad_W, *params)
        v = problem.project(X, v, *params)
        z = _CompactSolve.apply(problem, X, v, *params)
        return expand(*problem.joint_vjp(X, W, grad_W, -z, *params))


class ImplicitSolve(torch.autograd.Function):
    """``ImplicitSolve.apply(solver, warm_start, *params)`` is ``(X, gap, n_iter, converged) =
    solver(params, warm_start)`` (no autograd inside), differentiated implicitly."""

    @staticmethod
    def forward(solver: ForwardSolver, warm_start, *params):
        return solver(params, warm_start)

    @staticmethod
    def setup_context(ctx, inputs, output):
        solver, _warm_start, *params = inputs
        X, gap, n_iter, converged = output
        ctx.problem = solver.problem
        ctx.mark_non_differentiable(gap, n_iter, converged)
        ctx.save_for_backward(X, *params)

    @staticmethod
    def backward(ctx, grad_X, _grad_gap, _grad_n_iter, _grad_converged):
        X, *params = ctx.saved_tensors
        grads = implicit_vjp(ctx.problem, X, tuple(params), grad_X)
        return None, None, *grads

    @staticmethod
    def vmap(info, in_dims, solver, warm_start, *params):
        moved = batch_first(info, in_dims[1:], warm_start, *params)
        return ImplicitSolve.apply(solver, *moved), (0, 0, 0, 0)


class ImplicitPrimalSolve(torch.autograd.Function):
    """``ImplicitPrimalSolve.apply(solver, warm_start, *params)`` is ``(X, W, gap, n_iter,
    converged)``: :class:`ImplicitSolve` with the primal solution ``W = problem.primal(X,
    *params)`` as an output, both differentiated in one pass (:func:`implicit_primal_vjp`).
    Computing ``W`` from ``X`` by autograd instead gives each of the two maps its own product
    with the features, and autograd sums the two gradients: on 5-shot SVM heads with
    m = 16,000 features, three passes over an ``(n, m)`` tensor and two temporaries of its size
    where this takes two passes and one."""

    @staticmethod
    def forward(solver: ForwardSolver, warm_start, *params):
        X, gap, n_iter, converged = solver(params, warm_start)
        return X, solver.problem.primal(X, *params), gap, n_iter, converged

    @staticmethod
    def setup_context(ctx, inputs, output):
        solver, _warm_start, *params = inputs
        X, W, gap, n_iter, converged = output
        ctx.problem = solver.problem
        ctx.mark_non_differentiable(gap, n_iter, converged)
        ctx.save_for_backward(X, W, *params)

    @staticmethod
    def backward(ctx, grad_X, grad_W, _grad_gap, _grad_n_iter, _grad_converged):
        X, W, *params = ctx.saved_tensors
        grads = implicit_primal_vjp(ctx.problem, X, W, tuple(params), grad_X, grad_W)
        return None, None, *grads

    @staticmethod
    def vmap(info, in_dims, solver, warm_start, *params):
        moved = batch_first(info, in_dims[1:], warm_start, *params)
        return ImplicitPrimalSolve.apply(solver, *moved), (0, 0, 0, 0, 0)
