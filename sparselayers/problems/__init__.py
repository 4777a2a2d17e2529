"""Convex problems: objective, proximal step, duality gap, optimality conditions, cvxpy form.

A problem is a stateless object whose methods take the variable ``B`` and the parameters
``(F, Y, lam)`` as tensors with any leading (task) dimensions. Solvers use ``initial``,
``lipschitz``, ``smooth_gradient``, ``prox`` and ``relative_gap`` (and ``validate`` for checks
beyond NaN/Inf); the implicit backward uses ``active``, ``project`` (onto the tangent space of the
active set), ``stationarity`` and ``reduced_hessian``; the reference backward uses
``cvxpy_sizes``, ``cvxpy_arguments`` and ``cvxpy_problem``.
"""

from sparselayers.problems.group_lasso import GROUP_LASSO, GroupLasso
from sparselayers.problems.ridge import RIDGE, Ridge
from sparselayers.problems.svm_dual import (
    CRAMMER_SINGER,
    GROUP_LASSO_SVM,
    CrammerSingerKernelDual,
    GroupLassoSVMDual,
)

__all__ = [
    "CRAMMER_SINGER",
    "GROUP_LASSO",
    "GROUP_LASSO_SVM",
    "RIDGE",
    "CrammerSingerKernelDual",
    "GroupLasso",
    "GroupLassoSVMDual",
    "Ridge",
]
