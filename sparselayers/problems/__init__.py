"""Convex problems: objective, duality gap, proximal step, optimality conditions, cvxpy form.

A problem is a stateless object whose methods take the variable ``X`` and the parameters
(``(F, Y, lam)`` for the regressions) as tensors with any leading (task) dimensions. What it
offers is typed by the protocols of ``problems/protocols.py``: what the solvers need
(:class:`~sparselayers.problems.protocols.ProximalProblem`), what the implicit backward and the
Newton polish need (:class:`~sparselayers.problems.protocols.ActiveSetProblem`) and what the
reference backward needs (:class:`~sparselayers.problems.protocols.CvxpyProblem`). How a problem
is solved (solver choice, budgets, cost models) is not its business: see ``solvers/``.

| problem | file | parameters |
| --- | --- | --- |
| group Lasso (the Lasso for k = 1) | ``group_lasso.py`` | ``(F, Y, lam)`` |
| ridge | ``ridge.py`` | ``(F, Y, lam)`` |
| group-lasso SVM dual, feature form | ``svm_features.py`` | ``(F, Y, lam1, lam2)`` |
| Crammer–Singer dual, kernel form | ``svm_kernel.py`` | ``(F, K, Y, lam2)`` |
"""

from sparselayers.problems.group_lasso import GROUP_LASSO, GroupLasso
from sparselayers.problems.ridge import RIDGE, Ridge
from sparselayers.problems.svm_features import GROUP_LASSO_SVM, GroupLassoSVMDual
from sparselayers.problems.svm_kernel import CRAMMER_SINGER, CrammerSingerKernelDual

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
