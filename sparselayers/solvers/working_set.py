"""Working sets for the group Lasso: solve on the groups likely to be active, certify on all.

Why: a group-Lasso solution has at most ``n`` nonzero groups (in the benchmark, 35 of 256
features for n = 50), while a proximal-gradient iteration on the whole problem costs
``O(n m)`` and its step is set by the whole spectrum of ``FᵀF``. Restricted to a working set
``W`` of ``p`` groups an iteration costs ``O(n p)``, the step is larger, and for the Lasso the
Gram matrix of ``W`` is small enough for the Newton-type active-set iterations of
``solvers/active_set.py``, which finish in a handful of steps where proximal gradient needs
tens to hundreds. Measured on the benchmark problems (64 tasks, n = 50, float32, one thread,
λ = 0.1 λ_max), the forward went from 4.0 / 14 / 91 ms (proximal gradient with the support
polish, on all features) to 1.4 / 6 / 45-50 ms for m = 6 / 64 / 256. Where supports approach
n (small λ, few samples, correlated features: the Section 2 study's problems) working sets do
not pay: such tasks are handed, all in one batch, to proximal gradient on all groups, and those
problems cost 0.7-2x what proximal gradient alone did (1.16x summed over the λ grid).

The duality gap of the *whole* problem at the working-set solution certifies it: the primal
value is the same, and the rescaled-residual dual point is feasible for the whole problem
unless a group outside ``W`` correlates with the residual more than ``lam``. Such groups enter
``W`` (the working set doubles) and the solve restarts from the current solution (the strategy
of Blitz and Celer: Johnson & Guestrin 2015, Massias et al. 2018). Tasks that working sets do
not help (supports of nearly n groups) are handed to proximal gradient on all groups.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import replace

import torch
from torch import Tensor

from sparselayers.ops.prox import group_norm
from sparselayers.problems import quadratic
from sparselayers.solvers.active_set import lasso_active_set
from sparselayers.solvers.apg import SolverOptions, fista_loop
from sparselayers.solvers.batching import run_on_flat_tasks
from sparselayers.solvers.polish import newton_step

# Settings chosen on two families of problems, measured together (64 tasks each, one thread):
# the benchmark's i.i.d. features (n = 50, m = 6 / 64 / 256, float32, λ = 0.1 λ_max) and the
# Section 2 study's correlated ones (Σ = 0.9^|i-j|, m = 100, n = 20 / 60 / 120, float64,
# λ = 1e-3 ... 1e-1 λ_max). Every choice is certified by the duality gap: they trade time only.

INITIAL_SIZE = 8
"""Groups in the first working set (all of them when ``m`` is not larger)."""

ACTIVE_SET_ITERATIONS = 10
"""Budget of the first try of the active-set (Newton) iterations on a working set."""

PROXIMAL_ITERATIONS = 10
"""Proximal-gradient iterations between the first two tries of the active-set iterations
(doubling between later tries)."""

RETRY_ITERATIONS = 5
"""Budget of the later tries: after proximal-gradient iterations the iterate is close to the
solution, where the active-set iterations take one to three steps or do not converge at all."""

ROUND_ITERATIONS = 50
"""Iteration budget of one working set (the solve on all groups gets ``max_iter``)."""

STRIKES = 2
"""Working sets a task may leave unsolved within their budget before it is solved on all
groups (its supports are dense or its features correlated: working sets do not pay there)."""

CAPPED_ROUNDS = 4
"""Working sets at the cap (n groups, for the Lasso) tried before a task is solved on all."""

MAX_ROUNDS = 10
"""Working sets tried before the tasks left are solved on all groups."""


def solve_working_set(
    problem,
    params: tuple[Tensor, ...],
    options: SolverOptions,
    warm_start: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Group Lasso ``(F, Y, lam)`` by working sets; same contract as ``solve_apg``.

    Tasks with ``lam = 0`` (dense least squares, no sparsity to exploit) make the whole batch
    fall back to proximal gradient on all groups (as does an empty batch).
    """
    return run_on_flat_tasks(_working_set, problem, params, options, warm_start)


def _working_set(problem, params, options, warm_start):
    F, Y, lam = params
    T, n, m = F.shape
    if T == 0 or not bool((lam > 0).all()):
        return fista_loop(problem, params, options, warm_start)
    B = problem.initial(*params) if warm_start is None else warm_start.detach()
    B0 = B
    out = _Results(B)
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
        "capped": zeros,  # working sets at the cap
        "strikes": zeros,  # working sets left unsolved within their budget
    }
    # For the Lasso the working set is capped at n groups, where its Gram matrix can be
    # nonsingular (the active-set iterations need it); a solution has at most n active groups.
    cap = min(m, n) if Y.shape[-1] == 1 else m
    size = min(cap, INITIAL_SIZE)
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
        # Tasks that working sets do not help leave for proximal gradient on all groups (after
        # the loop, in one batch): their support fills the cap (no room for violators), working
        # sets at the cap keep failing them (supports of nearly n groups: ill-conditioned), or
        # their working sets were left unsolved within budget (dense supports, correlation).
        hard = t["strikes"] >= STRIKES
        if cap < m:
            hard = hard | (counts >= cap - 1) | (t["capped"] >= CAPPED_ROUNDS)
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
            B, iterations, _ = _solve_subproblem(problem, *sub, t["B"], per_round)
            gap = problem.relative_gap(B, *sub)
            finished = gap <= options.tol
            n_iter = t["n_iter"] + iterations
            out.write(t["live"][finished], B[finished], gap[finished], n_iter[finished], True)
            if not bool(finished.all()):
                deferred.append(t["live"][~finished])
                spent[t["live"][~finished]] = n_iter[~finished]
            break
        order = torch.where(active, torch.inf, correlations).topk(size, dim=-1).indices
        F_W = torch.gather(t["F"], -1, order.unsqueeze(-2).expand(-1, n, -1))
        rows = order.unsqueeze(-1).expand(-1, -1, t["B"].shape[-1])
        B_W, iterations, unsolved = _solve_subproblem(
            problem, F_W, t["Y"], t["lam"], torch.gather(t["B"], -2, rows), per_round
        )
        t["B"] = torch.zeros_like(t["B"]).scatter(-2, rows, B_W)
        t["n_iter"] = t["n_iter"] + iterations
        t["capped"] = t["capped"] + int(size == cap)
        t["strikes"] = t["strikes"] + unsolved
        tasks = t
        size = min(cap, 2 * size)
    if deferred:
        # All the tasks handed over, in one batch (a proximal-gradient run costs about the same
        # for one task or many), from the caller's start rather than from the working sets'
        # solution (on the study's correlated designs up to 1.5x fewer iterations from there).
        index = torch.cat(deferred)
        sub = tuple(x.index_select(0, index) for x in params)
        start = B0.index_select(0, index)
        X, X_gap, iterations, done = fista_loop(problem, sub, options, start)
        out.write(index, X, X_gap, spent.index_select(0, index) + iterations, done)
    return out.B, out.gap, out.n_iter, out.done


def _keep(tasks: dict[str, Tensor], mask: Tensor) -> dict[str, Tensor]:
    index = mask.nonzero().squeeze(-1)
    return {key: value.index_select(0, index) for key, value in tasks.items()}


class _Results:
    """The outputs of the tasks that have left the working-set loop."""

    def __init__(self, B: Tensor) -> None:
        T = B.shape[0]
        self.B = B
        self.gap = torch.full((T,), math.inf, dtype=B.dtype, device=B.device)
        self.n_iter = torch.zeros(T, dtype=torch.int64, device=B.device)
        self.done = torch.zeros(T, dtype=torch.bool, device=B.device)

    def write(self, index: Tensor, B: Tensor, gap: Tensor, n_iter: Tensor, done) -> None:
        self.B = self.B.index_copy(0, index, B)
        self.gap[index] = gap
        self.n_iter[index] = n_iter
        self.done[index] = done


def _solve_subproblem(problem, F, Y, lam, B, options):
    """Solve the group Lasso on the given groups from ``B``.

    For the Lasso (k = 1, at most n groups) active-set iterations, and for the tasks they leave
    unsolved, a few proximal-gradient iterations (which bring the iterate closer to the
    solution, where the active-set iterations converge) before trying them again. Groups go to
    proximal gradient directly.
    """
    T, n, p = F.shape
    if Y.shape[-1] != 1 or p > n:
        X, _gap, n_iter, done = fista_loop(problem, (F, Y, lam), options, B)
        return X, n_iter, (~done).to(torch.int64)
    G = quadratic.gram(F)
    c = quadratic.transposed_times(F, Y).squeeze(-1) / n
    # Guesses of n features or more have a singular (or, at n, badly conditioned) system.
    max_active = n - 1
    n_iter = torch.zeros(T, dtype=torch.int64, device=F.device)
    todo = torch.arange(T, device=F.device)
    budget = ACTIVE_SET_ITERATIONS
    for attempt in itertools.count():
        sub = (F[todo], Y[todo], lam[todo])
        b, solved, iterations = lasso_active_set(
            G[todo], c[todo], sub[2], B[todo].squeeze(-1), budget, max_active
        )
        budget = RETRY_ITERATIONS
        n_iter = n_iter.index_add(0, todo, iterations)
        candidate = b.unsqueeze(-1)
        # A fixed point is exact only if its solves were accurate: certify it on the working
        # set. An ill-conditioned active block in float32 can pass the fixed-point test and not
        # the tolerance; one Newton step whose residual is computed from F rather than from
        # the Gram matrix (iterative refinement) usually recovers the lost digits.
        gap = problem.relative_gap(candidate, *sub)
        inexact = solved & (gap > options.tol)
        if bool(inexact.any()):
            where = inexact.nonzero().squeeze(-1)
            inexact_sub = tuple(x[where] for x in sub)
            refined = newton_step(problem, candidate[where], inexact_sub)
            candidate = candidate.index_copy(0, where, refined)
            gap = gap.index_copy(0, where, problem.relative_gap(refined, *inexact_sub))
        solved = solved & (gap <= options.tol)
        B = B.index_copy(0, todo[solved], candidate[solved])
        todo, sub = todo[~solved], tuple(x[~solved] for x in sub)
        left = options.max_iter - (int(n_iter[todo].max()) if todo.numel() else 0)
        if todo.numel() == 0 or left <= 0:
            break
        # Proximal-gradient iterations before the next try, twice as many each time: a few
        # where the active-set iterations only needed a closer start, most of the budget
        # where they do not converge (supports of nearly n features).
        chunk = replace(options, max_iter=min(left, PROXIMAL_ITERATIONS * 2**attempt))
        X, _gap, iterations, done = fista_loop(problem, sub, chunk, B[todo])
        B = B.index_copy(0, todo, X)
        n_iter = n_iter.index_add(0, todo, iterations)
        todo = todo[~done]
        if todo.numel() == 0:
            break
    unsolved = torch.zeros(T, dtype=torch.int64, device=F.device)
    unsolved[todo] = 1
    return B, n_iter, unsolved
