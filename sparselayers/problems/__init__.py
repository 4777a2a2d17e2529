"""Convex problems: objective, proximal step, duality gap, optimality conditions, cvxpy form.

A problem is a stateless object whose methods take the variable ``B`` and the parameters
``(F, Y, lam)`` as tensors with any leading (task) dimensions. Solvers use ``lipschitz``,
``smooth_gradient``, ``prox`` and ``relative_gap``; the implicit backward uses ``active``,
``stationarity`` and ``reduced_hessian``; the reference backward uses ``cvxpy_problem``.
"""

from sparselayers.problems.group_lasso import GROUP_LASSO, GroupLasso
from sparselayers.problems.ridge import RIDGE, Ridge

__all__ = ["GROUP_LASSO", "RIDGE", "GroupLasso", "Ridge"]
