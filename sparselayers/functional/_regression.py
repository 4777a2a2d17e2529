"""Shared plumbing of the regression functional forms: validate, scale, dispatch, reshape."""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers import _validation as check
from sparselayers.functional._dispatch import solve
from sparselayers.solution import RegressionSolution
from sparselayers.solvers.apg import SolverOptions
from sparselayers.solvers.direct import ClosedFormSolver, IterativeSolver


def solve_regression(
    problem,
    features: Tensor,
    targets: Tensor,
    lam: float | Tensor,
    *,
    relative: bool,
    backward: str,
    options: SolverOptions,
    warm_start: Tensor | None,
    closed_form: bool,
) -> RegressionSolution:
    backward = check.check_backward(backward)
    F, Y, vector = check.regression_inputs(features, targets)
    batch = F.shape[:-2]
    lam_t = check.regularization(lam, batch, F, "lam")
    if check.nothing_to_solve(F):
        return _empty_solution(F, Y, lam_t, vector)
    if relative:
        lam_t = lam_t * problem.lambda_max(F.detach(), Y.detach())
    warm = None
    if warm_start is not None:
        warm = _warm_start(warm_start, F, Y, vector)
    B, gap, n_iter, converged = solve(
        problem,
        (F, Y, lam_t),
        backward=backward,
        options=options,
        warm_start=warm,
        forward=ClosedFormSolver(options) if closed_form else IterativeSolver(options),
    )
    weights = B[..., 0] if vector else B.mT
    return RegressionSolution(weights=weights, gap=gap, n_iter=n_iter, converged=converged)


def _warm_start(warm_start: Tensor, F: Tensor, Y: Tensor, vector: bool) -> Tensor:
    if not isinstance(warm_start, Tensor):
        raise ValueError(f"warm_start must be a tensor, got {type(warm_start).__name__}")
    check.check_same_kind(F, warm_start, "warm_start", "features")
    m, k = F.shape[-1], Y.shape[-1]
    expected = (*F.shape[:-2], m) if vector else (*F.shape[:-2], k, m)
    try:
        W = warm_start.expand(expected)
    except RuntimeError as err:
        raise ValueError(
            f"warm_start must have the shape of the weights {expected}, got "
            f"{tuple(warm_start.shape)}"
        ) from err
    return W.unsqueeze(-1) if vector else W.mT


def _empty_solution(F: Tensor, Y: Tensor, lam: Tensor, vector: bool) -> RegressionSolution:
    """Zero tasks or m = 0: ``W`` has no entries; each task is solved exactly (gap 0). The
    weights stay connected to the inputs, so that a backward pass runs (and gives zeros)."""
    batch, (m, k) = F.shape[:-2], (F.shape[-1], Y.shape[-1])
    link = F.sum() * 0 + Y.sum() * 0 + lam.sum() * 0
    weights = F.new_zeros(*batch, m) if vector else F.new_zeros(*batch, k, m)
    gap = F.new_zeros(batch)
    n_iter = torch.zeros(batch, dtype=torch.int64, device=F.device)
    converged = torch.ones(batch, dtype=torch.bool, device=F.device)
    return RegressionSolution(weights=weights + link, gap=gap, n_iter=n_iter, converged=converged)
