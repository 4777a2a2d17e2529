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

from sparselayers.ops.prox import group_norm
from sparselayers.solvers.apg import SolverOptions, fista_loop
from sparselayers.solvers.batching import Results, rows, run_on_flat_tasks
from sparselayers.solvers.lasso import solve_lasso

INITIAL_SIZE = 8
"""Groups in the first working set (all of them when ``m`` is not larger)."""

ROUND_ITERATIONS = 50
"""Iteration budget of one working set (the solve on all groups gets ``max_iter``)."""

STRIKES = 2
"""Working sets a task may leave unsolved within their budget before it is solved on all
groups (its supports are dense or its features correlated: working sets do not pay there)."""

MAX_ROUNDS = 10
"""Working sets tried before the tasks left are solved on all groups."""


def solve_working_set(
    problem,
    params: tuple[Tensor, ...],
    options: SolverOptions,
    warm_start: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Group Lasso ``(F, Y, lam)`` by working sets, or for one output (the Lasso) by
    ``solvers/lasso.py``; same contract as ``solve_apg``.

    Tasks with ``lam = 0`` (dense least squares, no sparsity to exploit) make the whole batch
    fall back to proximal gradient on all groups (as does an empty batch).
    """
    return run_on_flat_tasks(_working_set, problem, params, options, warm_start)


def _working_set(problem, params, options, warm_start):
    F, Y, lam = params
    T, n, m = F.shape
    if T == 0 or not bool((lam > 0).all()):
        return fista_loop(problem, params, options, warm_start)
    if Y.shape[-1] == 1:
        return solve_lasso(problem, params, options, warm_start)
    B = problem.initial(*params) if warm_start is None else warm_start.detach()
    B0 = B
    out = Results(B)
    deferred: list[Tensor] = []  # tasks handed to proximal gradient on all groups, at the end
    spent = torch.zeros(T, dtype=torch.int64, device=F.device)  # their iterations until then
    # Per-task state of the tasks still in the loop (``live`` indexes them in the batch).
    zeros = torch.zeros(T, dtype=torch.int64, device=F.device)
    tasks = {
        "live": torch.arange(T, device=F.device),
        "F": F,
        "Y": Y,
        "lam": lam,
        "B": B,
        "n_iter": zeros,
        "strikes": zeros,  # working sets left unsolved within their budget
    }
    size = min(m, INITIAL_SIZE)
    per_round = replace(options, max_iter=min(options.max_iter, ROUND_ITERATIONS))
    for rounds in itertools.count(1):
        t = tasks
        correlations = None
        if rounds > 1 or warm_start is not None or size < m:
            gap, correlations = problem.gap_and_correlations(t["B"], t["F"], t["Y"], t["lam"])
            finished = gap <= options.tol
            if bool(finished.any()):
                done = _keep(t, finished)
                out.write(done["live"], done["B"], gap[finished], done["n_iter"], True)
                t, correlations = _keep(t, ~finished), correlations[~finished]
                if t["live"].numel() == 0:
                    break
        active = group_norm(t["B"]) > 0
        counts = active.sum(-1)
        # Tasks whose working sets were left unsolved within budget (dense supports,
        # correlation) leave for proximal gradient on all groups (after the loop, one batch).
        hard = t["strikes"] >= STRIKES
        if rounds > MAX_ROUNDS:
            hard = torch.ones_like(hard)
        if bool(hard.any()):
            deferred.append(t["live"][hard])
            spent[t["live"][hard]] = t["n_iter"][hard]
            kept = ~hard
            t, active, counts = _keep(t, kept), active[kept], counts[kept]
            correlations = None if correlations is None else correlations[kept]
            if t["live"].numel() == 0:
                break
        size = max(size, int(counts.max()))
        sub = (t["F"], t["Y"], t["lam"])
        if size >= m:  # the working set is everything: the last round
            B, gap, iterations, finished = fista_loop(problem, sub, per_round, t["B"])
            n_iter = t["n_iter"] + iterations
            out.write(t["live"][finished], B[finished], gap[finished], n_iter[finished], True)
            if not bool(finished.all()):
                deferred.append(t["live"][~finished])
                spent[t["live"][~finished]] = n_iter[~finished]
            break
        order = torch.where(active, torch.inf, correlations).topk(size, dim=-1).indices
        F_W = torch.gather(t["F"], -1, order.unsqueeze(-2).expand(-1, n, -1))
        slots = order.unsqueeze(-1).expand(-1, -1, t["B"].shape[-1])
        B_W, _gap, iterations, solved = fista_loop(
            problem, (F_W, t["Y"], t["lam"]), per_round, torch.gather(t["B"], -2, slots)
        )
        t["B"] = torch.zeros_like(t["B"]).scatter(-2, slots, B_W)
        t["n_iter"] = t["n_iter"] + iterations
        t["strikes"] = t["strikes"] + (~solved).to(torch.int64)
        tasks = t
        size = min(m, 2 * size)
    if deferred:
        # All the tasks handed over, in one batch (a proximal-gradient run costs about the same
        # for one task or many), from the caller's start rather than from the working sets'
        # solution (on the study's correlated designs up to 1.5x fewer iterations from there).
        index = torch.cat(deferred)
        sub = rows(index, *params)
        start = B0.index_select(0, index)
        X, X_gap, iterations, done = fista_loop(problem, sub, options, start)
        out.write(index, X, X_gap, spent.index_select(0, index) + iterations, done)
    return out.astuple()


def _keep(tasks: dict[str, Tensor], mask: Tensor) -> dict[str, Tensor]:
    index = mask.nonzero().squeeze(-1)
    return {key: value.index_select(0, index) for key, value in tasks.items()}
