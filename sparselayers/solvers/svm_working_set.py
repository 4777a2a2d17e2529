"""Working sets over feature columns for the group-lasso SVM dual (``lam1 > 0``).

Why: with the group lasso most columns of ``W`` are zero at the solution (73–83 % in the
benchmark heads, m = 1,600 and 16,000), yet every iteration on the whole dual reads all ``m``
columns (``O(n m k)``). The dual variable ``Λ (n, k)`` does not depend on ``m``: restricting the
features to a working set ``S`` of columns gives the same kind of problem, whose iterations cost
``O(n |S| k)`` and whose Newton polish forms its Hessian on ``|S|`` columns. The solution of the
restricted dual is the solution of the whole one iff no column outside ``S`` is active there
(``||(Y - Λ)^T F_j|| <= lam1``); the duality gap of the *whole* problem at ``Λ`` certifies it, and
columns that violate enter ``S`` (which doubles) before the solve resumes from ``Λ`` (the
strategy of Blitz and Celer: Johnson & Guestrin 2015, Massias et al. 2018).

The first working set ranks the columns by ``||(Y - Λ_0)^T F_j||`` at the uniform off-label point
``Λ_0`` (the point that bounds ``lam1_max``) or at the warm start, and keeps a multiple of those
that exceed ``lam1`` there (:data:`GROWTH`).
"""

from __future__ import annotations

from dataclasses import replace

import torch
from torch import Tensor

from sparselayers.ops.gather import take_columns
from sparselayers.problems.svm_features import GroupLassoSVMDual
from sparselayers.solvers import kernel_metric
from sparselayers.solvers.apg import solve_apg
from sparselayers.solvers.batching import Live, Results, rows
from sparselayers.solvers.options import Params, Result, SolverOptions
from sparselayers.solvers.polish import polish_tasks

MIN_SIZE = 32
"""Fewest columns in a working set (all of them when ``m`` is not larger)."""

GROWTH = 1.5
"""The first working set holds this many times the columns that exceed ``lam1`` at the
reference point (on the benchmark heads 1.5x missed at most 3 active columns of 460, 2x none;
an iteration costs in proportion)."""

POLISH_TOL = 1e-6
"""A polished candidate replaces the iterate only if its relative gap is this small (float32
heads polished on the right face reach 1e-8)."""

POLISH_STEPS = 1
"""Newton steps of that polish: from a point on the right face one step reaches ``POLISH_TOL``;
on a wrong face further steps were wasted (a third of the forward on 5-shot, m = 1,600)."""

METRIC_BUDGET = 50
"""Steps in the kernel's metric before the tasks left go on with Euclidean FISTA (the benchmark
heads took 2-13)."""

POLISH_BUDGET = 1e8
"""Above this many multiply-adds per task, forming the reduced Hessian for a Newton polish costs
more than the solve itself. Counted as ``(n k)² s`` with ``s`` the columns of the working set
(the Hessian is formed on the active rows and columns only, about half of that on the benchmark
heads): 6.5e7 for 5-shot 5-way at m = 16,000 (polished), 6e8 for 15-shot (not polished)."""


def solve_column_working_sets(
    problem: GroupLassoSVMDual, params: Params, options: SolverOptions, warm_start: Tensor | None
) -> Result:
    """The feature-form dual ``(F (T, n, m), Y (T, n, k), lam1 (T,), lam2 (T,))`` by working
    sets of columns, on flattened tasks; same contract as ``fista_loop``."""
    F, Y, lam1, lam2 = params
    T, n, m = F.shape
    k = Y.shape[-1]
    if warm_start is None:
        L = problem.initial(*params)  # offsets A = Y - Λ
        reference = Y - (1 - Y) / (k - 1)
    else:
        L = reference = warm_start.clone()
    norms = problem.column_norms(reference, F)
    violating = int((norms > lam1[:, None]).sum(-1).max())
    size = min(m, max(MIN_SIZE, int(GROWTH * violating)))
    out = Results(L.clone())
    zeros = torch.zeros(T, dtype=torch.int64, device=F.device)
    live = Live(
        torch.arange(T, device=F.device), L=L, F=F, Y=Y, lam1=lam1, lam2=lam2, n_iter=zeros,
        norms=norms,
    )  # fmt: skip
    while True:
        budget = replace(options, max_iter=max(1, options.max_iter - int(live.n_iter.max())))
        whole = (live.F, live.Y, live.lam1, live.lam2)
        if size == m:
            live.L, gap, iterations = _solve(problem, whole, budget, live.L)
            live.n_iter = live.n_iter + iterations
            finished, leaving = gap <= options.tol, torch.ones_like(gap, dtype=torch.bool)
        else:
            # Unsorted: ordering the top quarter of 16,000 columns cost 7x more than selecting it.
            order = live.norms.topk(size, dim=-1, sorted=False).indices
            on_set = (take_columns(live.F, order), *whole[1:])
            live.L, gap, iterations = _solve(problem, on_set, budget, live.L)
            live.n_iter = live.n_iter + iterations
            # Without active columns outside S, the gap on S is the gap of the whole problem (the
            # other columns have W_j = 0 and add nothing to either objective); with some, the
            # gap of the whole problem decides whether the working set grows.
            live.norms = norms = problem.column_norms(live.L, live.F)
            outside = torch.ones_like(norms, dtype=torch.bool).scatter(-1, order, False)
            violated = ((norms > live.lam1[:, None]) & outside).any(-1)
            if bool(violated.any()):
                index = violated.nonzero().squeeze(-1)
                sub = rows(index, live.L, *whole)
                gap = gap.index_copy(0, index, problem.relative_gap(*sub))
            finished = gap <= options.tol
            leaving = finished | (live.n_iter >= options.max_iter)
        live.retire(leaving, out, B=live.L, gap=gap, n_iter=live.n_iter, done=finished)
        if not len(live):
            break
        size = min(m, 2 * size)
    return out.astuple()


def _in_kernel_metric(
    problem: GroupLassoSVMDual, params, options: SolverOptions, L: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Proximal gradient in the kernel's metric (``solvers/kernel_metric.py``) for at most
    :data:`METRIC_BUDGET` steps, then Euclidean FISTA for the tasks it left above ``tol``."""
    budget = replace(options, max_iter=min(options.max_iter, METRIC_BUDGET))
    L, gap, iterations = kernel_metric.solve_in_kernel_metric(problem, params, budget, L)
    left = options.max_iter - int(iterations.max())
    todo = (gap > options.tol).nonzero().squeeze(-1)
    if todo.numel() and left > 0:
        rest = replace(options, max_iter=left)
        sub = rows(todo, *params)
        L_t, gap_t, it_t, _ = solve_apg(problem, sub, rest, L.index_select(0, todo), warn=False)
        better = gap_t < gap.index_select(0, todo)
        L = L.index_copy(0, todo, torch.where(better[:, None, None], L_t, L.index_select(0, todo)))
        gap = gap.index_copy(0, todo, torch.minimum(gap_t, gap.index_select(0, todo)))
        iterations = iterations.index_copy(0, todo, iterations.index_select(0, todo) + it_t)
    return L, gap, iterations


def _solve(
    problem: GroupLassoSVMDual, params, options: SolverOptions, L: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """Accelerated projected gradient to ``options.tol``, then one Newton polish on the faces
    reached, accepted only where it certifies ``POLISH_TOL``: an exact solution on its face, so
    that the implicit gradients are exact too.

    The polish is not tried during the iterations: on the benchmark heads (``lam1 > 0``, tol
    1e-4) the attempts at every check never succeeded and cost a quarter of the solve. It is
    tried only when ``tol <= POLISH_TOL``: at the default tol (1e-6) it lands on the exact face
    (gradients then match the references to ~1e-6), while from a gap of 1e-4 the face is not
    identified yet and the candidate was rejected on every benchmark head (costing up to a
    fifth of the solve); the gradients are then those of the inexact face (7-11 % off on the
    benchmark heads). Heads whose Hessian exceeds :data:`POLISH_BUDGET` are not polished.
    """
    plain = replace(options, polish_steps=0)
    if kernel_metric.worthwhile(params):
        L, gap, iterations = _in_kernel_metric(problem, params, plain, L)
    else:
        L, gap, iterations, _ = solve_apg(problem, params, plain, L, warn=False)
    polish = options.polish_steps > 0 and options.tol <= POLISH_TOL
    F, Y = params[0], params[1]
    affordable = (F.shape[-2] * Y.shape[-1]) ** 2 * F.shape[-1] <= POLISH_BUDGET
    if polish and affordable:
        tight = replace(options, tol=min(options.tol, POLISH_TOL), polish_steps=POLISH_STEPS)
        L, gap, _ = polish_tasks(problem, L, gap, params, gap <= options.tol, tight)
    return L, gap, iterations
