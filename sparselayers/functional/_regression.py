"""Shared plumbing of the regression functional forms: validate, scale, solve, reshape."""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from sparselayers import _validation as check
from sparselayers.backward.modes import Backward, parse_backward
from sparselayers.solution import RegressionSolution
from sparselayers.solvers.options import SolverOptions, for_dtype
from sparselayers.solvers.table import forward_solver


def solve_regression(
    kind: Literal["group_lasso", "ridge"],
    features: Tensor,
    targets: Tensor,
    lam: float | Tensor,
    *,
    relative: bool,
    backward: Backward,
    options: SolverOptions,
    warm_start: Tensor | None,
) -> RegressionSolution:
    """Solve the regression ``kind`` with the backward mode asked for. The group Lasso with
    one output is the Lasso, which has a forward solver of its own (``solvers/table.py``)."""
    mode = parse_backward(backward)
    F, Y, vector = check.regression_inputs(features, targets)
    if kind == "group_lasso" and Y.shape[-1] == 1:
        kind = "lasso"
    solver = forward_solver(kind, for_dtype(options, F.dtype, kind))
    batch = F.shape[:-2]
    lam_t = check.regularization(lam, batch, F, "lam")
    if check.nothing_to_solve(F):
        return _empty_solution(F, Y, lam_t, vector)
    if relative:
        lam_t = lam_t * solver.problem.lambda_max(F.detach(), Y.detach())
    warm = None
    if warm_start is not None:
        warm = _warm_start(warm_start, F, Y, vector)
    B, gap, n_iter, converged = mode.solve(solver, (F, Y, lam_t), warm)
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
