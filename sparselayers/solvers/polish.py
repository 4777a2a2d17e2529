"""Newton steps on the support: turn an iterate with the right support into the exact solution.

Proximal-gradient methods identify the support long before they reach high accuracy. Once the
support is fixed, the optimality conditions are smooth equations on it (for the Lasso a linear
system ``G_SS w_S = F_S^T y / n - lam sign(w_S)``), so a Newton step on the reduced system —
the same system the implicit backward solves — lands on the solution, with exact zeros off the
support. For the Lasso one step is exact; group curvature needs a few.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.ops.support_solve import solve_on_support_checked


def newton_step(problem, B: Tensor, params: tuple[Tensor, ...]) -> Tensor:
    """One Newton step on ``problem.stationarity`` restricted to the support of ``B``.

    Tasks whose reduced Hessian is singular are returned unchanged; the caller accepts a
    candidate only where its duality gap improves.
    """
    flat = (*B.shape[:-2], -1)
    H = problem.reduced_hessian(B, *params)
    mask = problem.active(B).reshape(flat)
    g = problem.stationarity(B, *params).reshape(flat)
    delta, ok = solve_on_support_checked(H, mask, g)
    return torch.where(ok[..., None, None], B - delta.reshape(B.shape), B)
