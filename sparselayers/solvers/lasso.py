"""The Lasso's forward (the group Lasso with one output): active-set iterations, then the path.

Most tasks are solved in a handful of active-set (semismooth Newton) iterations on all
features: each is one solve of the size of the guessed support, against tens to hundreds of
proximal-gradient iterations. With few features (``m <= 16``, below ``n``) they run on the Gram
matrix, masked, without gathers (``solvers/gram_active_set.py``), otherwise on the columns of
``F`` gathered for each guess (``solvers/active_set.py``); with many more features than samples
(``m >= 8 n``) the path goes first. The tasks they leave unsolved (their guesses cycle or turn
singular) follow the Lasso path from ``lam_max``
(``solvers/homotopy.py``), one event per step and no failure mode but a singular active set;
what the path cannot certify either goes to proximal gradient on all features
(``apg.fista_loop``), from the caller's start.

Every result is certified by the relative duality gap of the whole problem. A float32 solve
whose active block is ill-conditioned can land short of a tight tolerance: one Newton step
whose residual is computed from ``F`` rather than from the Gram matrix (iterative refinement)
usually recovers the lost digits, and is tried before a task is handed on.

Measured on the benchmark's problems (64 tasks, n = 50, float32, one thread, lam = 0.1 lam_max,
forward, min of 7 calls, 3 interleaved runs each), before and after the Gram stage and the sign
rule of the active-set iterations (which let them settle what used to go down the path):
m = 6: 1.8-1.9 → 0.85-0.88 ms (8 tasks, the paper's inner problem: 1.4-1.6 → 0.67-0.75 ms);
m = 64: 5.5-6.7 → 5.4-5.6 ms, dense truth 18-21 → 7.7-7.9 ms, Toeplitz 0.9 19-21 → 8.6-8.8 ms;
m = 256: 45-49 → 24-26 ms, dense truth 50-52 → 25-27 ms, Toeplitz 41-44 → 28-29 ms. The m ≫ n
problem (n = 25, m = 256) went the other way, 26-29 → 33-35 ms (3 of its 64 tasks, whose
supports fill all but one of the 25 samples, cycle through the 20 iterations and then take the
path), until such problems went to the path first (:data:`PATH_FIRST`): 21-22 ms. The Section 2
study (its default quick run) gives the committed results unchanged.
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from sparselayers.problems.group_lasso import GroupLasso
from sparselayers.solvers import gram_active_set
from sparselayers.solvers.active_set import lasso_active_set
from sparselayers.solvers.apg import fista_loop
from sparselayers.solvers.batching import Results, rows
from sparselayers.solvers.homotopy import lasso_path
from sparselayers.solvers.options import Params, Result, SolverOptions
from sparselayers.solvers.polish import newton_step

ACTIVE_SET_ITERATIONS = 20
"""Budget of the active-set iterations (6-17 solve the benchmark's m = 64 and m = 256 tasks)."""
PATH_FIRST = 8
"""With ``m >= PATH_FIRST n`` features the path goes first (no active-set iterations): measured
(64 tasks, float32, lam = 0.1 lam_max, forward) at n = 25, m = 256 it took 21-22 ms where the
iterations and then the path for the few tasks they left took 28-32 ms (i.i.d., dense truth,
Toeplitz 0.9), 17.5 against 30 ms at n = 20, 12 against 21 ms at n = 16, m = 128, the same at
n = 50, m = 400 (55 ms); at the boundary, n = 32, m = 256, either wins (i.i.d. 26 against 20 ms,
Toeplitz 26 against 34 ms); at m / n = 2-6.4 the iterations won by 1.3-1.5x."""
GRAM_ITERATIONS = 8
"""Budget of the iterations on the Gram matrix (few features: 2-5 solve the benchmark's m = 6
tasks)."""


def solve_lasso(
    problem: GroupLasso, params: Params, options: SolverOptions, warm_start: Tensor | None
) -> Result:
    """The Lasso ``(F (T, n, m), Y (T, n, 1), lam (T,))`` on flattened tasks; same contract as
    ``fista_loop``: ``(B, gap, n_iter, done)``. ``n_iter`` counts active-set iterations, path
    steps and proximal-gradient iterations, and stays within ``max_iter``. A batch with a task
    at ``lam = 0`` (least squares, no sparsity to exploit) goes to proximal gradient whole."""
    F, Y, lam = params
    T, n, m = F.shape
    if T == 0 or not bool((lam > 0).all()):
        return fista_loop(problem, params, options, warm_start)
    start = problem.initial(*params) if warm_start is None else warm_start.detach()
    out = Results(start)
    todo = torch.arange(T, device=F.device)
    if warm_start is not None:  # a start that is already a solution is returned as it is
        no_iterations = torch.zeros(T, dtype=torch.int64, device=F.device)
        todo = _certify(
            problem,
            params,
            options,
            start,
            torch.ones_like(todo, dtype=torch.bool),
            no_iterations,
            out,
            todo,
            refine=False,
        )
    if not todo.numel():
        return out.astuple()
    if gram_active_set.applies(n, m):
        sub = rows(todo, *params)
        b, solved, n_iter = gram_active_set.lasso_gram_active_set(
            sub[0],
            sub[1].squeeze(-1),
            sub[2],
            start.index_select(0, todo).squeeze(-1),
            min(options.max_iter, GRAM_ITERATIONS),
        )
        todo = _certify(problem, sub, options, b.unsqueeze(-1), solved, n_iter, out, todo)
    left = _left(options, out, todo) if m < PATH_FIRST * n else 0
    if left > 0:
        spent = out.n_iter.index_select(0, todo)
        sub = rows(todo, *params)
        b, solved, n_iter = lasso_active_set(
            sub[0],
            sub[1].squeeze(-1),
            sub[2],
            start.index_select(0, todo).squeeze(-1),
            min(left, ACTIVE_SET_ITERATIONS),
            max_active=min(n - 1, m),
        )
        todo = _certify(problem, sub, options, b.unsqueeze(-1), solved, spent + n_iter, out, todo)
    left = _left(options, out, todo)
    if left > 0:
        sub = rows(todo, *params)
        b, ok, steps = lasso_path(sub[0], sub[1].squeeze(-1), sub[2], max_steps=left)
        spent = out.n_iter.index_select(0, todo) + steps
        todo = _certify(problem, sub, options, b.unsqueeze(-1), ok, spent, out, todo)
    left = _left(options, out, todo)
    if left > 0:
        spent = out.n_iter.index_select(0, todo)
        rest = replace(options, max_iter=left)
        X, gap, iterations, done = fista_loop(
            problem, rows(todo, *params), rest, start.index_select(0, todo)
        )
        out.offer(todo, X, gap, spent + iterations, done)
    return out.astuple()


def _left(options: SolverOptions, out: Results, todo: Tensor) -> int:
    """Iterations left to the tasks ``todo`` (0 when there are none)."""
    return options.max_iter - int(out.n_iter.index_select(0, todo).max()) if todo.numel() else 0


def _certify(problem, params, options, B, ok, n_iter, out, index, *, refine=True) -> Tensor:
    """Offer ``B (t, m, 1)`` to ``out`` at ``index``: done where ``ok`` and within the
    tolerance (after one Newton step with the residual from ``F`` where it falls short, if
    ``refine``); returns the batch indices of the tasks not done."""
    gap = problem.relative_gap(B, *params)
    inexact = ok & (gap > options.tol)
    if refine and bool(inexact.any()):
        where = inexact.nonzero().squeeze(-1)
        sub = rows(where, *params)
        refined = newton_step(problem, B.index_select(0, where), sub)
        B = B.index_copy(0, where, refined)
        gap = gap.index_copy(0, where, problem.relative_gap(refined, *sub))
    done = ok & (gap <= options.tol)
    out.offer(index, B, gap, n_iter, done)
    return index[~done]
