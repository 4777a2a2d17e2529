"""Accelerated proximal gradient (FISTA with adaptive restart), batched over tasks.

Why this algorithm: every task of a batch runs the same dense operations (two batched matmuls
and a prox per iteration), so one iteration costs the same on CPU or GPU whatever the batch
size, with no Python loop over features as in coordinate descent (the paper's block coordinate
descent loops over the m features, with step sizes n times too small). Gradient-based adaptive
restart (O'Donoghue & Candès, 2015) recovers the linear rate that the Lasso enjoys once its
support is identified, and a Newton step on the identified support (``solvers/polish.py``) then
gives the exact solution. Each task stops on its own relative duality gap, not on the change of
the iterate, so ``converged`` is a certificate.

The group Lasso's forward runs it on working sets of groups (``solvers/working_set.py``); on
its own it is the unrolled backward's solver, the SVM duals' first phase, and the last resort
of the Lasso's forward (``solvers/lasso.py``) and of the working sets.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import Tensor

from sparselayers.problems.protocols import ProximalProblem
from sparselayers.solvers.batching import Live, Results, run_on_flat_tasks
from sparselayers.solvers.options import SolverOptions
from sparselayers.solvers.polish import polish_tasks


def solve_apg(
    problem: ProximalProblem,
    params: tuple[Tensor, ...],
    options: SolverOptions,
    warm_start: Tensor | None = None,
    *,
    differentiable: bool = False,
    warn: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Minimize ``smooth + prox-able`` per task with FISTA and adaptive restart.

    Args:
        problem: a problem object (``sparselayers.problems``).
        params: the problem's parameters, e.g. ``(F, Y, lam)`` with ``F (..., n, m)``,
            ``Y (..., n, k)``, ``lam (...)``; the first has two trailing (non-task) dims.
        options: stopping rule.
        warm_start: optional starting point (default ``problem.initial(*params)``).
        differentiable: keep the autograd graph of the iterations (the ``"unroll"`` backward);
            the support polish is then skipped so that gradients are those of the iterations.
        warn: warn when ``max_iter`` is reached before ``tol``.

    Returns:
        the solution (e.g. ``B (..., m, k)``), relative gap ``(...)``, iterations ``(...)``
        int64, converged ``(...)``.
    """
    loop = partial(fista_loop, differentiable=differentiable)
    return run_on_flat_tasks(loop, problem, params, options, warm_start, warn=warn)


def fista_loop(
    problem: ProximalProblem,
    params: tuple[Tensor, ...],
    options: SolverOptions,
    warm_start: Tensor | None,
    *,
    differentiable: bool = False,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """FISTA on flattened tasks ``(T, ...)``; see :func:`solve_apg`. The Newton polish needs
    the problem's active set too (:class:`ActiveSetProblem`); it is off when
    ``options.polish_steps == 0`` or ``differentiable``.

    A task leaves the batch as soon as it meets the tolerance (``Live.retire``): its result is
    written to the outputs and the iterations go on with the unfinished tasks only, so the cost
    follows them rather than the whole batch until the slowest task is done.
    """
    F = params[0]
    T = F.shape[0]
    X = problem.initial(*params) if warm_start is None else warm_start.detach()
    out = Results(X, n_iter=options.max_iter)
    if T == 0:  # nothing to iterate on
        return out.astuple()
    with torch.no_grad():
        step = (1 / problem.lipschitz(*params)).detach()
    polish = options.polish_steps > 0 and not differentiable
    ones = torch.ones(T, dtype=F.dtype, device=F.device)
    # ``support``: the support at the last check (none before the first).
    # ``best``: the iterate of smallest gap seen at the checks, returned by the tasks that run out
    # of iterations (FISTA is not monotone, and rounding can make the last iterate worse).
    live = Live(
        torch.arange(T, device=F.device), X=X, Z=X, t=ones, step=step, params=params,
        support=None, best=X, best_gap=torch.full_like(ones, torch.inf),
    )  # fmt: skip
    for it in range(options.max_iter + 1):
        if it > 0:
            X, Z, t, step = live.X, live.Z, live.t, live.step
            gradient = problem.smooth_gradient(Z, *live.params)
            X_new = problem.prox(Z - step[:, None, None] * gradient, step, *live.params)
            with torch.no_grad():
                restart = ((Z - X_new) * (X_new - X)).sum((-2, -1)) > 0
                t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
                beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_next)
                live.t = torch.where(restart, torch.ones_like(t), t_next)
            live.Z = X_new + beta[:, None, None] * (X_new - X)
            live.X = X_new
        last = it == options.max_iter
        if it % options.check_every and not last:
            continue
        if it == 0 and differentiable:
            continue  # at least one step, so that the unrolled output is connected to the inputs
        with torch.no_grad():
            gap = problem.relative_gap(live.X, *live.params)
            if polish:
                gap = _polish(problem, live, gap, options)
            finished = gap <= options.tol
            leaving = finished | last
            if not differentiable:  # the unrolled output must be the last iterate's graph
                better = gap < live.best_gap
                live.best = torch.where(better[:, None, None], live.X, live.best)
                live.best_gap = torch.where(better, gap, live.best_gap)
        if not bool(leaving.any()):
            continue
        n_iter = torch.where(finished, it, options.max_iter)
        if differentiable:
            X, gap = live.X, gap
        else:
            X, gap = live.best, live.best_gap
        live.retire(leaving, out, B=X, gap=gap, n_iter=n_iter, done=finished)
        if not len(live):
            break
    return out.astuple()


def _polish(problem, live: Live, gap: Tensor, options: SolverOptions) -> Tensor:
    """Newton steps for the tasks whose support has settled since the last check, and for the
    tasks about to stop: their last digits then come from the exact solve on the support, not
    from FISTA. Updates the live tasks' iterates; returns their gaps."""
    current = problem.active(live.X, *live.params) > 0
    if live.support is None:
        settled = torch.zeros_like(gap, dtype=torch.bool)
    else:
        settled = (current == live.support).all(-1).all(-1)
    selected = settled | (gap <= options.tol)
    X, gap, accepted = polish_tasks(problem, live.X, gap, live.params, selected, options)
    live.X = X
    live.Z = torch.where(accepted[:, None, None], X, live.Z)
    live.t = torch.where(accepted, torch.ones_like(live.t), live.t)
    live.support = problem.active(X, *live.params) > 0
    return gap
