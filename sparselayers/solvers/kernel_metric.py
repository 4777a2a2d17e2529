"""Accelerated proximal gradient in the kernel's metric, for the feature-form SVM dual with many
features (``lam1 > 0``, ``problems/svm_features.py``).

    φ(A) = 1/(2 lam2) Σ_j ||BST(A^T F_j, lam1)||² + n - <Y, A>,
    rows A_i in C_i = {a <= Y_i, Σ_l a_l = 0}

Why: every iteration of proximal gradient on ``φ`` reads the features twice (``A^T F`` and
``F W^T``), ``O(n m k)``, and needs tens of iterations (30-49 on 15-shot 5-way heads with
m = 16,000: 60-100 passes over 38 MB). Its step ``1 / L`` is set by the largest curvature,
``||F||² / lam2``, while the Hessian is ``Σ_j F_j F_j^T ⊗ J_j`` with ``0 ⪯ J_j ⪯ I / lam2``:
it is bounded by ``K ⊗ I`` with the kernel ``K = F F^T / lam2``, and close to it while the
shrinkage ``lam1 / ||v_j||`` is small. FISTA in the metric ``K ⊗ I`` instead of ``L I`` (a
variable-metric forward-backward method with a fixed metric: the same rates, for the condition
number of ``φ`` relative to ``K``) needs a few iterations where the Euclidean one needs tens.
Its proximal step is a QP on ``n x n`` data,

    argmin_{A in C}  <∇φ(Z), A - Z> + ½ tr((A - Z)^T K (A - Z)),

solved by projected gradient on ``K`` (``O(n² k)`` per iteration, no pass over the features):
the λ1 = 0 head's problem with another linear term. Forming ``K`` costs ``O(n² m)`` once.

Every task stops on the duality gap of the whole problem, as in ``apg.fista_loop``; a task
out of iterations keeps its best point, and the caller goes on with Euclidean FISTA.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.ops.simplex import project_offsets
from sparselayers.problems.svm_features import GroupLassoSVMDual
from sparselayers.problems.svm_scores import scores, shrink_columns
from sparselayers.solvers.batching import Live, Results
from sparselayers.solvers.options import Params, SolverOptions

INNER_ITERATIONS = 40
"""Projected-gradient iterations of each proximal step at most (its QP has the conditioning of
the λ1 = 0 head, which FISTA solves to 1e-4 in 20-30)."""

INNER_RTOL = 1e-3
"""A proximal step stops early once, on every task, its last iteration moved the iterate by at
most this fraction of the step's displacement ``||X - Z||`` (checked every
:data:`INNER_CHECK_EVERY` iterations): the outer iterations are certified by the duality gap,
so a step solved less exactly can cost iterations, not accuracy."""

INNER_CHECK_EVERY = 5

MIN_PASS_COST = 1e6
"""The metric pays off when one pass over the features costs more than the QP's iterations:
``n m k`` multiply-adds per task above this (5-shot 5-way heads at m = 16,000: 2e6)."""


def worthwhile(params: Params) -> bool:
    """Whether the kernel metric is cheaper than Euclidean steps on these parameters."""
    F, Y = params[0], params[1]
    n, m = F.shape[-2:]
    return n * m * Y.shape[-1] >= MIN_PASS_COST and m > n


def solve_in_kernel_metric(
    problem: GroupLassoSVMDual, params: Params, options: SolverOptions, A: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """FISTA in the metric ``K ⊗ I`` from ``A`` on flattened tasks ``(F (T, n, m), Y, lam1,
    lam2)``; returns ``(A, gap, iterations)`` (the best point of every task, its relative gap,
    the proximal steps taken)."""
    F, Y, lam1, lam2 = params
    T = F.shape[0]
    K = F @ F.mT / lam2[:, None, None]
    inner_step = 1 / torch.linalg.eigvalsh(K)[:, -1].clamp_min(torch.finfo(F.dtype).tiny)
    ones = torch.ones(T, dtype=F.dtype, device=F.device)
    V = A.mT @ F
    out = Results(A, n_iter=options.max_iter)
    live = Live(
        torch.arange(T, device=F.device), X=A, Z=A, V_X=V, V_Z=V, t=ones, K=K, step=inner_step,
        params=params, best=A, best_gap=torch.full_like(ones, torch.inf),
    )  # fmt: skip
    for it in range(1, options.max_iter + 1):
        F, Y, lam1, lam2 = live.params
        # Three passes over F per step: scores at Z (the gradient), then V and the scores at the
        # new iterate (its gap); V at the next Z follows by linearity, V(Z) = V(X) + β ΔV.
        W_Z = shrink_columns(live.V_Z, lam1, lam2)
        gradient = scores(F, W_Z, Y)
        X_new = _metric_step(live.K, live.step, Y, live.Z, gradient)
        V_new = X_new.mT @ F
        W_new = shrink_columns(V_new, lam1, lam2)
        gap = problem.relative_gap_at(X_new, W_new, scores(F, W_new), Y, lam1, lam2)
        X, Z, t = live.X, live.Z, live.t
        restart = ((Z - X_new) * (X_new - X)).sum((-2, -1)) > 0
        t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_next)[:, None, None]
        live.t = torch.where(restart, torch.ones_like(t), t_next)
        live.Z = X_new + beta * (X_new - X)
        live.V_Z = V_new + beta * (V_new - live.V_X)
        live.X, live.V_X = X_new, V_new
        better = gap < live.best_gap
        live.best = torch.where(better[:, None, None], X_new, live.best)
        live.best_gap = torch.where(better, gap, live.best_gap)
        finished = gap <= options.tol
        leaving = finished | (it == options.max_iter)
        if bool(leaving.any()):
            n_iter = torch.full_like(gap, it, dtype=torch.int64)
            live.retire(leaving, out, B=live.best, gap=live.best_gap, n_iter=n_iter, done=finished)
            if not len(live):
                break
    return out.B, out.gap, out.n_iter


def _metric_step(K: Tensor, step: Tensor, Y: Tensor, Z: Tensor, gradient: Tensor) -> Tensor:
    """``argmin_{A in C} <gradient, A - Z> + ½ tr((A - Z)^T K (A - Z))`` by FISTA with
    restart, from ``Z`` (projected first: an extrapolated ``Z`` may lie outside ``C``)."""
    s = step[:, None, None]
    X = project_offsets(Z - s * gradient, Y)
    W, t = X, torch.ones_like(step)
    for it in range(1, INNER_ITERATIONS + 1):
        X_new = project_offsets(W - s * torch.baddbmm(gradient, K, W - Z), Y)
        restart = ((W - X_new) * (X_new - X)).sum((-2, -1)) > 0
        t_next = (1 + torch.sqrt(1 + 4 * t * t)) / 2
        beta = torch.where(restart, torch.zeros_like(t), (t - 1) / t_next)
        t = torch.where(restart, torch.ones_like(t), t_next)
        W = X_new + beta[:, None, None] * (X_new - X)
        if it % INNER_CHECK_EVERY == 0:
            moved = torch.linalg.matrix_norm(X_new - X)
            if bool((moved <= INNER_RTOL * torch.linalg.matrix_norm(X_new - Z)).all()):
                return X_new
        X = X_new
    return X
