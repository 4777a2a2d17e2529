"""Block coordinate descent over samples for the multiclass SVM dual, batched over tasks.

Why this algorithm: the dual's rows ``Λ_i`` live on separate simplices, and the Hessian block of
one row is ``K_ii I_k / lam2`` — isotropic — so the exact minimization over one row is a single
simplex projection of ``Λ_i - lam2 g_i / K_ii`` (for ``lam1 > 0`` the same step with the bound
``||f_i||² / lam2`` on the block is a majorization, hence a monotone descent). This is the
sequential dual method of liblinear's Crammer–Singer solver. Projected gradient on all rows at
once must use the global constant ``||F||²_2 / lam2``, which for non-negative, correlated
features (ReLU networks) is ~n times larger than the per-row ones: measured on 8 tasks of
ReLU features, accelerated projected gradient needed thousands of iterations where this needs
tens of epochs. Tasks are updated in parallel, samples in sequence; each task stops on its own
relative duality gap, and the Newton polish on the identified faces (``solvers/polish.py``)
finishes with the exact solution when its Hessian is affordable.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from sparselayers.ops.simplex import project_simplex
from sparselayers.solvers.apg import SolverOptions
from sparselayers.solvers.batching import run_on_flat_tasks
from sparselayers.solvers.polish import polish_tasks


def solve_sample_bcd(
    problem,
    params: tuple[Tensor, ...],
    options: SolverOptions,
    warm_start: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Minimize the SVM dual by exact block steps on one sample (row of ``Λ``) at a time.

    ``options.max_iter`` counts epochs (one pass over the samples); the gap is checked after
    every epoch. Returns ``Λ (..., n, k)``, relative gap, epochs and converged, per task.
    """
    return run_on_flat_tasks(_epochs, problem, params, options, warm_start, unit="epochs")


def _epochs(problem, params, options: SolverOptions, warm_start: Tensor | None):
    L = problem.initial(*params) if warm_start is None else warm_start.clone()
    T, n = L.shape[:2]
    tiny = torch.finfo(L.dtype).tiny
    state = problem.sample_state(L, *params)
    polish = options.polish_steps > 0 and problem.can_polish(*params)
    done = torch.zeros(T, dtype=torch.bool, device=L.device)
    n_iter = torch.full((T,), options.max_iter, dtype=torch.int64, device=L.device)
    gap = torch.full((T,), math.inf, dtype=L.dtype, device=L.device)
    support = None
    tried = torch.zeros_like(L, dtype=torch.bool)  # the face of each task's last polish attempt
    for epoch in range(options.max_iter + 1):
        if epoch > 0:
            active = (~done).to(L.dtype)[:, None]
            for i in range(n):
                g, curvature = problem.sample_step(state, i, *params)
                row = project_simplex(L[:, i] - g / curvature.clamp_min(tiny)[:, None])
                delta = (row - L[:, i]) * active
                L[:, i] += delta
                state = problem.sample_update(state, i, delta, *params)
        gap = problem.relative_gap(L, *params)
        if polish:
            current = problem.active(L) > 0
            settled = (
                torch.zeros_like(done) if support is None else (current == support).all(-1).all(-1)
            )
            # One Newton attempt per face: a failed attempt is not repeated until the face moves.
            fresh = ~(current == tried).all(-1).all(-1)
            selected = ~done & ((settled & fresh) | (gap <= options.tol))
            tried = torch.where(selected[:, None, None], current, tried)
            L, gap, accepted = polish_tasks(problem, L, gap, params, selected, options)
            if bool(accepted.any()):
                state = problem.sample_state(L, *params)
            support = problem.active(L) > 0
        newly = ~done & (gap <= options.tol)
        n_iter = torch.where(newly, torch.full_like(n_iter, epoch), n_iter)
        done = done | newly
        if bool(done.all()):
            break
    return L, gap, n_iter, done
