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

import math
from dataclasses import dataclass, replace

import torch
from torch import Tensor

from sparselayers.solvers.apg import SolverOptions, solve_apg
from sparselayers.solvers.batching import run_on_flat_tasks
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

Result = tuple[Tensor, Tensor, Tensor, Tensor]


@dataclass(frozen=True)
class ColumnWorkingSetSolver:
    """Accelerated projected gradient (with the Newton polish) on working sets of columns,
    certified by the duality gap of the whole problem; for ``GroupLassoSVMDual``."""

    options: SolverOptions

    def __call__(self, problem, params: tuple[Tensor, ...], warm_start: Tensor | None) -> Result:
        problem.validate(*params)  # values included (NaN/Inf in one pass over F)
        with torch.no_grad():
            return run_on_flat_tasks(_working_sets, problem, params, self.options, warm_start)


def _working_sets(problem, params, options: SolverOptions, warm_start: Tensor | None) -> Result:
    F, Y, lam1, lam2 = params
    T, n, m = F.shape
    k = Y.shape[-1]
    if warm_start is None:
        L = problem.initial(*params)
        reference = (1 - Y) / (k - 1)
    else:
        L = reference = warm_start.clone()
    norms = problem.column_norms(reference, F, Y)
    violating = int((norms > lam1[:, None]).sum(-1).max())
    size = min(m, max(MIN_SIZE, int(GROWTH * violating)))
    out_L = L.clone()
    out_gap = torch.full((T,), math.inf, dtype=F.dtype, device=F.device)
    out_iter = torch.zeros(T, dtype=torch.int64, device=F.device)
    out_done = torch.zeros(T, dtype=torch.bool, device=F.device)
    live = torch.arange(T, device=F.device)
    n_iter = torch.zeros(T, dtype=torch.int64, device=F.device)
    while True:
        budget = replace(options, max_iter=max(1, options.max_iter - int(n_iter.max())))
        if size == m:
            L, gap, iterations = _solve(problem, (F, Y, lam1, lam2), budget, L)
            n_iter = n_iter + iterations
            finished, leaving = gap <= options.tol, torch.ones_like(gap, dtype=torch.bool)
        else:
            # Unsorted: ordering the top quarter of 16,000 columns cost 7x more than selecting it.
            order = norms.topk(size, dim=-1, sorted=False).indices
            F_S = torch.gather(F, -1, order.unsqueeze(-2).expand(-1, n, -1))
            L, gap, iterations = _solve(problem, (F_S, Y, lam1, lam2), budget, L)
            n_iter = n_iter + iterations
            # Without active columns outside S, the gap on S is the gap of the whole problem (the
            # other columns have W_j = 0 and add nothing to either objective); with some, the
            # gap of the whole problem decides whether the working set grows.
            norms = problem.column_norms(L, F, Y)
            outside = torch.ones_like(norms, dtype=torch.bool).scatter(-1, order, False)
            violated = ((norms > lam1[:, None]) & outside).any(-1)
            if bool(violated.any()):
                index = violated.nonzero().squeeze(-1)
                sub = (L[index], F[index], Y[index], lam1[index], lam2[index])
                gap = gap.index_copy(0, index, problem.relative_gap(*sub))
            finished = gap <= options.tol
            leaving = finished | (n_iter >= options.max_iter)
        if bool(leaving.any()):
            index = live[leaving]
            out_L[index] = L[leaving]
            out_gap[index] = gap[leaving]
            out_iter[index] = n_iter[leaving]
            out_done[index] = finished[leaving]
            staying = ~leaving
            if not bool(staying.any()):
                break
            live, L, F, Y = live[staying], L[staying], F[staying], Y[staying]
            lam1, lam2, n_iter, norms = (
                lam1[staying],
                lam2[staying],
                n_iter[staying],
                norms[staying],
            )
        size = min(m, 2 * size)
    return out_L, out_gap, out_iter, out_done


def _solve(problem, params, options: SolverOptions, L: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Accelerated projected gradient to ``options.tol``, then one Newton polish on the faces
    reached, accepted only where it certifies ``POLISH_TOL``: an exact solution on its face, so
    that the implicit gradients are exact too.

    The polish is not tried during the iterations: on the benchmark heads (``lam1 > 0``, tol
    1e-4) the attempts at every check never succeeded and cost a quarter of the solve. It is
    tried only when ``tol <= POLISH_TOL``: at the default tol (1e-6) it lands on the exact face
    (gradients then match the references to ~1e-6), while from a gap of 1e-4 the face is not
    identified yet and the candidate was rejected on every benchmark head (costing up to a
    fifth of the solve); the gradients are then those of the inexact face (7-11 % off on the
    benchmark heads). Heads whose Hessian exceeds ``problem.polish_budget`` are not polished.
    """
    plain = replace(options, polish_steps=0)
    L, gap, iterations, _ = solve_apg(problem, params, plain, L, warn=False)
    polish = options.polish_steps > 0 and options.tol <= POLISH_TOL
    if polish and problem.can_polish(*params):
        tight = replace(options, tol=min(options.tol, POLISH_TOL), polish_steps=POLISH_STEPS)
        L, gap, _ = polish_tasks(problem, L, gap, params, gap <= options.tol, tight)
    return L, gap, iterations
