"""Reference backward: the same problem in cvxpy, differentiated by diffcp through cvxpylayers.

Used to check the other modes, not to train: float64 on the CPU, small problems. diffcp runs in
its exact ``mode="dense"`` (cvxpylayers' default ``lsqr`` leaves ~1e-4 relative error) with SCS
driven to 1e-12, so the reference is as exact as a conic solver allows (no exact zeros, though).
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from sparselayers._validation import check_values

SOLVER_ARGS = {
    # SCS driven to 1e-12 agrees with the implicit gradients to ~1e-12 on small problems;
    # Clarabel's defaults leave ~5e-4 and its tightened tolerances ~1e-6 (measured).
    "mode": "dense",
    "solve_method": "SCS",
    "eps_abs": 1e-12,
    "eps_rel": 1e-12,
    "max_iters": 100_000,
}


@lru_cache(maxsize=32)
def _layer(problem, sizes: tuple[int, ...]):
    from cvxpylayers.torch import CvxpyLayer

    cp_problem, cp_params, cp_variables = problem.cvxpy_problem(*sizes)
    return CvxpyLayer(cp_problem, parameters=cp_params, variables=cp_variables)


def reference_solve(problem, params: tuple[Tensor, ...], tol: float):
    """Solve every task with cvxpy (differentiable through diffcp). Returns the solver tuple."""
    F, Y, lam = params
    if F.dtype != torch.float64 or F.device.type != "cpu":
        raise ValueError(
            "backward='cvxpy' is the float64 CPU reference: pass float64 CPU features and "
            f"targets (got {F.dtype} on {F.device})"
        )
    check_values(features=F, targets=Y, lam=lam)
    batch = lam.shape
    n, m = F.shape[-2:]
    k = Y.shape[-1]
    layer = _layer(problem, (n, m, k))
    (B,) = layer(F.reshape(-1, n, m), Y.reshape(-1, n, k), lam.reshape(-1), solver_args=SOLVER_ARGS)
    B = B.reshape(*batch, m, k)
    with torch.no_grad():
        gap = problem.relative_gap(B, F, Y, lam)
    n_iter = torch.zeros(batch, dtype=torch.int64)
    return B, gap, n_iter, gap <= tol
