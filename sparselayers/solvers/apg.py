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

import math
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor

from sparselayers.solvers.batching import run_on_flat_tasks
from sparselayers.solvers.polish import polish_tasks


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


def solve_apg(
    problem,
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
        warn: warn when ``max_iter`` is reached before ``tol`` (off when another solver takes
            over, see ``solvers/direct.py``).

    Returns:
        the solution (e.g. ``B (..., m, k)``), relative gap ``(...)``, iterations ``(...)``
        int64, converged ``(...)``.
    """
    loop = partial(fista_loop, differentiable=differentiable)
    return run_on_flat_tasks(loop, problem, params, options, warm_start, warn=warn)


def fista_loop(problem, params, options, warm_start, *, differentiable=False):
    """FISTA on flattened tasks ``(T, ...)``; see :func:`solve_apg`.

    A task leaves the batch as soon as it meets the tolerance: its result is written to the
    outputs and the iterations go on with the unfinished tasks only, so the cost follows them
    rather than the whole batch until the slowest task is done.
    """
    F = params[0]
    T = F.shape[0]
    X = problem.initial(*params) if warm_start is None else warm_start.detach()
    if T == 0:  # nothing to iterate on
        empty = torch.zeros(0, dtype=F.dtype, device=F.device)
        return X, empty, empty.long(), empty.bool()
    with torch.no_grad():
        step = (1 / problem.lipschitz(*params)).detach()
    polish = options.polish_steps > 0 and not differentiable and problem.can_polish(*params)
    out_X = X
    out_gap = torch.full((T,), math.inf, dtype=F.dtype, device=F.device)
    out_iter = torch.full((T,), options.max_iter, dtype=torch.int64, device=F.device)
    out_done = torch.zeros(T, dtype=torch.bool, device=F.device)
    live = torch.arange(T, device=F.device)
    Z = X
    t = torch.ones(T, dtype=F.dtype, device=F.device)
    support = None
    for it in range(options.max_iter + 1):
        if it > 0:
            gradient = problem.smooth_gradient(Z, *params)
            X_new = problem.prox(Z - step[:, None, None] * gradient, step, *params)
            with torch.no_grad():
                restart = ((Z - X_new) * (X_new - X)).sum((-2, -1)) > 0
                t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
                beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_next)
                t = torch.where(restart, torch.ones_like(t), t_next)
            Z = X_new + beta[:, None, None] * (X_new - X)
            X = X_new
        last = it == options.max_iter
        if it % options.check_every and not last:
            continue
        if it == 0 and differentiable:
            continue  # at least one step, so that the unrolled output is connected to the inputs
        with torch.no_grad():
            gap = problem.relative_gap(X, *params)
            if polish:
                # Polish tasks whose support has settled, and tasks about to stop: their last
                # digits then come from the exact solve on the support, not from FISTA.
                current = problem.active(X) > 0
                settled = (
                    torch.zeros_like(gap, dtype=torch.bool)
                    if support is None
                    else (current == support).all(-1).all(-1)
                )
                selected = settled | (gap <= options.tol)
                X, gap, accepted = polish_tasks(problem, X, gap, params, selected, options)
                Z = torch.where(accepted[:, None, None], X, Z)
                t = torch.where(accepted, torch.ones_like(t), t)
                support = problem.active(X) > 0
            finished = gap <= options.tol
            leaving = finished | last
        if not bool(leaving.any()):
            continue
        index = live[leaving]
        out_X = out_X.index_put((index,), X[leaving])
        out_gap[index] = gap[leaving]
        out_iter[index] = torch.where(finished[leaving], it, options.max_iter)
        out_done[index] = finished[leaving]
        staying = ~leaving
        if not bool(staying.any()):
            break
        live, X, Z, t, step = live[staying], X[staying], Z[staying], t[staying], step[staying]
        params = tuple(p[staying] for p in params)
        support = None if support is None else support[staying]
    return out_X, out_gap, out_iter, out_done
