"""Block coordinate descent over samples for the Crammer–Singer dual in kernel form, batched.

Why this algorithm: the dual's rows ``Λ_i`` live on separate simplices, and the Hessian block of
one row is ``K_ii I_k / lam2`` — isotropic — so the exact minimization over one row is a single
projection (onto the row's simplex, written in the offsets ``A = Y - Λ``) of
``A_i - lam2 g_i / K_ii``, with ``g_i`` row ``i`` of the gradient ``S - Y`` and
``S = K A / lam2`` the scores, kept up to date by rank-one updates. This is the sequential dual
method of liblinear's Crammer–Singer solver. Projected gradient on all rows at
once must use the global constant ``||F||²_2 / lam2``, which for non-negative, correlated
features (ReLU networks) is ~n times larger than the per-row ones: measured on 8 tasks of
ReLU features, accelerated projected gradient needed thousands of iterations where this needs
tens of epochs. Tasks are updated in parallel, samples in sequence; each task stops on its own
relative duality gap, and the Newton polish on the identified faces (``solvers/polish.py``)
finishes with the exact solution when its Hessian is affordable.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor

from sparselayers.ops.simplex import project_offsets
from sparselayers.problems.svm_kernel import CrammerSingerKernelDual
from sparselayers.solvers.apg import fista_loop
from sparselayers.solvers.options import Params, Result, SolverOptions
from sparselayers.solvers.polish import polish_tasks

ACCELERATED_ITERATIONS = 300
"""Iterations of accelerated projected gradient before coordinate descent takes over."""


def solve_kernel_dual(
    problem: CrammerSingerKernelDual,
    params: Params,
    options: SolverOptions,
    warm_start: Tensor | None,
) -> Result:
    """The kernel dual ``(F, K (T, n, n), Y (T, n, k), lam2 (T,))`` on flattened tasks:
    accelerated projected gradient for :data:`ACCELERATED_ITERATIONS`, then block coordinate
    descent over samples (epochs) for the tasks it has not finished; same contract as
    ``fista_loop``, ``n_iter`` counting iterations plus epochs.

    Measured on 8 tasks of 15-shot 5-way heads: on class-clustered features projected gradient
    converges in a few hundred cheap iterations (10x faster than coordinate descent, whose
    epochs are a Python loop over the samples), while on non-negative correlated (ReLU)
    features it needs thousands, where coordinate descent needs tens of epochs.
    """
    budget = replace(options, max_iter=min(ACCELERATED_ITERATIONS, options.max_iter))
    X, gap, n_iter, done = fista_loop(problem, params, budget, warm_start)
    if bool(done.all()) or budget.max_iter == options.max_iter:
        return X, gap, n_iter, done
    X_bcd, gap_bcd, epochs, done = _epochs(problem, params, options, X)
    better = done | (gap_bcd <= gap)  # keep the better point of the two phases
    X = torch.where(better[:, None, None], X_bcd, X)
    return X, torch.where(better, gap_bcd, gap), n_iter + epochs, done


def _epochs(problem, params, options: SolverOptions, warm_start: Tensor | None):
    F, K, Y, lam2 = params
    L = problem.initial(*params) if warm_start is None else warm_start.clone()  # offsets Y - Λ
    T, n = L.shape[:2]
    tiny = torch.finfo(L.dtype).tiny
    scale = lam2[:, None, None]
    S = problem.scores(L, K, lam2)
    curvature = (torch.diagonal(K, dim1=-2, dim2=-1) / lam2[:, None]).clamp_min(tiny)  # K_ii/lam2
    polish = options.polish_steps > 0  # the reduced Hessian K ⊗ I / lam2 is always affordable
    done = torch.zeros(T, dtype=torch.bool, device=L.device)
    n_iter = torch.full((T,), options.max_iter, dtype=torch.int64, device=L.device)
    gap = torch.full((T,), math.inf, dtype=L.dtype, device=L.device)
    support = None
    tried = torch.zeros_like(L, dtype=torch.bool)  # the face of each task's last polish attempt
    best, best_gap = L, gap  # the point of smallest gap seen (done tasks: their solution)
    for epoch in range(options.max_iter + 1):
        if epoch > 0:
            active = (~done).to(L.dtype)[:, None]
            for i in range(n):
                g = S[:, i] - Y[:, i]
                row = project_offsets(L[:, i] - g / curvature[:, i, None], Y[:, i])
                delta = (row - L[:, i]) * active
                L[:, i] += delta
                S = S + K[:, :, i, None] * delta[:, None, :] / scale
        gap = problem.relative_gap(L, *params)
        if polish:
            current = problem.active(L, *params) > 0
            settled = (
                torch.zeros_like(done) if support is None else (current == support).all(-1).all(-1)
            )
            # One Newton attempt per face: a failed attempt is not repeated until the face moves.
            fresh = ~(current == tried).all(-1).all(-1)
            selected = ~done & ((settled & fresh) | (gap <= options.tol))
            tried = torch.where(selected[:, None, None], current, tried)
            L, gap, accepted = polish_tasks(problem, L, gap, params, selected, options)
            if bool(accepted.any()):
                S = problem.scores(L, K, lam2)
            support = problem.active(L, *params) > 0
        newly = ~done & (gap <= options.tol)
        n_iter = torch.where(newly, torch.full_like(n_iter, epoch), n_iter)
        done = done | newly
        better = ~done & (gap < best_gap) | newly  # the best point of the unfinished tasks
        best = torch.where(better[:, None, None], L, best)
        best_gap = torch.where(better, gap, best_gap)
        if bool(done.all()):
            break
    return best, best_gap, n_iter, done
