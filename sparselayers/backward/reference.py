"""Reference backward: the same problem in cvxpy, differentiated by diffcp through cvxpylayers.

Used to check the other modes, not to train: float64 on the CPU, small problems. diffcp runs in
its exact ``mode="dense"`` (cvxpylayers' default ``lsqr`` leaves ~1e-4 relative error) with SCS
driven to 1e-12, so the reference is as exact as a conic solver allows (no exact zeros, though).
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import torch
from torch import Tensor

from sparselayers.problems.protocols import CvxpyProblem

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


def reference_solve(problem: CvxpyProblem, params: tuple[Tensor, ...], tol: float):
    """Solve every task with cvxpy (differentiable through diffcp). Returns the solver tuple.

    The problem supplies ``cvxpy_sizes(*params)`` (the sizes its cvxpy form is built for, cached)
    and ``cvxpy_arguments(*params)`` (the tensors bound to its cvxpy parameters, with the task
    dims in front).
    """
    first = params[0]
    if first.dtype != torch.float64 or first.device.type != "cpu":
        raise ValueError(
            "backward='cvxpy' is the float64 CPU reference: pass float64 CPU features and "
            f"targets (got {first.dtype} on {first.device})"
        )
    problem.validate(*params)
    batch = first.shape[:-2]
    layer = _layer(problem, problem.cvxpy_sizes(*params))
    arguments = [a.reshape(-1, *a.shape[len(batch) :]) for a in problem.cvxpy_arguments(*params)]
    differentiate = torch.is_grad_enabled() and any(a.requires_grad for a in arguments)
    # cvxpylayers hands the same arguments to diffcp's solve-only path, which rejects "mode".
    args = SOLVER_ARGS if differentiate else {k: v for k, v in SOLVER_ARGS.items() if k != "mode"}
    (solution,) = layer(*arguments, solver_args=args)
    solution = solution.reshape(*batch, *solution.shape[1:])
    # A zero-step proximal map projects the conic solver's slightly infeasible answer onto the
    # domain of the nonsmooth term (the simplex for the SVM dual; identity for the regressions).
    zero = torch.zeros(batch, dtype=first.dtype)
    solution = problem.prox(solution, zero, *params)
    with torch.no_grad():
        gap = problem.relative_gap(solution, *params)
    n_iter = torch.zeros(batch, dtype=torch.int64)
    converged = gap <= tol
    if not bool(converged.all()):
        # The conic solver stops on its own criteria; the duality gap of *our* problem is the
        # certificate, as in the other modes (badly scaled data leave SCS inaccurate).
        warnings.warn(
            f"{problem.name}: backward='cvxpy': {int((~converged).sum())} of "
            f"{converged.numel()} tasks did not reach tol={tol:g} (the conic solver's answer, "
            f"within its own budget of {SOLVER_ARGS['max_iters']} iterations); largest relative "
            f"duality gap reached {float(gap.max()):.3e}",
            RuntimeWarning,
            stacklevel=4,
        )
    return solution, gap, n_iter, converged
