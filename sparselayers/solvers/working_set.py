"""Working sets for the group Lasso: solve on the groups likely to be active, certify on all.

Why: a group-Lasso solution has few nonzero groups when ``lam`` is not small, while a
proximal-gradient iteration on the whole problem costs ``O(n m k)`` and its step is set by the
whole spectrum of ``FᵀF``. Restricted to a working set ``W`` of ``p`` groups an iteration costs
``O(n p k)`` and the step is larger. The Lasso (one output) has a faster forward of its own,
active-set iterations and the path (``solvers/lasso.py``); groups come here.

The duality gap of the *whole* problem at the working-set solution certifies it: the primal
value is the same, and the rescaled-residual dual point is feasible for the whole problem
unless a group outside ``W`` correlates with the residual more than ``lam``. Such groups enter
``W`` (the working set doubles) and the solve restarts from the current solution (the strategy
of Blitz and Celer: Johnson & Guestrin 2015, Massias et al. 2018). Tasks that working sets do
not help (dense supports, whose working sets are left unsolved within their budget) are handed,
all in one batch, to proximal gradient on all groups.
"""

from __future__ import annotations

import itertools
from dataclasses import replace

import torch
from torch import Tensor

from sparselayers.ops.gather import put_rows, take_columns, take_rows
from sparselayers.ops.prox import group_norm
from sparselayers.problems.group_lasso import GroupLasso
from sparselayers.solvers.apg import fista_loop
from sparselayers.solvers.batching import Live, Outputs, Results, rows
from sparselayers.solvers.options import Params, Result, SolverOptions

INITIAL_SIZE = 8
"""Groups in the first working set (all of them when ``m`` is not larger)."""

ROUND_ITERATIONS = 50
"""Iteration budget of one working set (the solve on all groups gets ``max_iter``)."""

STRIKES = 2
"""Working sets a task may leave unsolved within their budget before it is solved on all
groups (its supports are dense or its features correlated: working sets do not pay there)."""

MAX_ROUNDS = 10
"""Working sets tried before the tasks left are solved on all groups."""


def solve_working_sets(
    problem: GroupLasso, params: Params, options: SolverOptions, warm_start: Tensor | None
) -> Result:
    """The group Lasso ``(F (T, n, m), Y (T, n, k), lam (T,))`` by working sets, on flattened
    tasks; same contract as ``fista_loop``. A batch with a task at ``lam = 0`` (dense least
    squares, no sparsity to exploit) goes to proximal gradient on all groups whole."""
    F, Y, lam = params
    T, n, m = F.shape
    if T == 0 or not bool((lam > 0).all()):
        return fista_loop(problem, params, options, warm_start)
    B0 = problem.initial(*params) if warm_start is None else warm_start.detach()
    out = Results(B0)
    # Tasks handed to proximal gradient on all groups, at the end, with their iterations.
    deferred = Outputs(
        spent=torch.zeros(T, dtype=torch.int64, device=F.device),
        handed=torch.zeros(T, dtype=torch.bool, device=F.device),
    )
    zeros = torch.zeros(T, dtype=torch.int64, device=F.device)
    # ``strikes``: working sets left unsolved within their budget.
    live = Live(
        torch.arange(T, device=F.device), F=F, Y=Y, lam=lam, B=B0, n_iter=zeros, strikes=zeros,
        correlations=None,
    )  # fmt: skip
    size = min(m, INITIAL_SIZE)
    per_round = replace(options, max_iter=min(options.max_iter, ROUND_ITERATIONS))
    for rounds in itertools.count(1):
        live.correlations = None
        if rounds > 1 or warm_start is not None or size < m:
            gap, live.correlations = problem.gap_and_correlations(live.B, live.F, live.Y, live.lam)
            finished = gap <= options.tol
            live.retire(finished, out, B=live.B, gap=gap, n_iter=live.n_iter, done=True)
            if not len(live):
                break
        # Tasks whose working sets were left unsolved within budget (dense supports,
        # correlation) leave for proximal gradient on all groups (after the loop, one batch).
        hard = live.strikes >= STRIKES
        if rounds > MAX_ROUNDS:
            hard = torch.ones_like(hard)
        live.retire(hard, deferred, spent=live.n_iter, handed=True)
        if not len(live):
            break
        active = group_norm(live.B) > 0
        size = max(size, int(active.sum(-1).max()))
        sub = (live.F, live.Y, live.lam)
        if size >= m:  # the working set is everything: the last round
            B, gap, iterations, finished = fista_loop(problem, sub, per_round, live.B)
            n_iter = live.n_iter + iterations
            index, left = live.index[finished], live.index[~finished]
            out.write(index, B=B[finished], gap=gap[finished], n_iter=n_iter[finished], done=True)
            deferred.write(left, spent=n_iter[~finished], handed=True)
            break
        order = torch.where(active, torch.inf, live.correlations).topk(size, dim=-1).indices
        B_W, _gap, iterations, solved = fista_loop(
            problem, (take_columns(live.F, order), live.Y, live.lam), per_round,
            take_rows(live.B, order),
        )  # fmt: skip
        live.B = put_rows(live.B, order, B_W)
        live.n_iter = live.n_iter + iterations
        live.strikes = live.strikes + (~solved).to(torch.int64)
        size = min(m, 2 * size)
    index = deferred.handed.nonzero().squeeze(-1)
    if index.numel():
        # All the tasks handed over, in one batch (a proximal-gradient run costs about the same
        # for one task or many), from the caller's start rather than from the working sets'
        # solution (on the study's correlated designs up to 1.5x fewer iterations from there).
        X, X_gap, iterations, done = fista_loop(
            problem, rows(index, *params), options, B0.index_select(0, index)
        )
        spent = deferred.spent.index_select(0, index)
        out.write(index, B=X, gap=X_gap, n_iter=spent + iterations, done=done)
    return out.astuple()
