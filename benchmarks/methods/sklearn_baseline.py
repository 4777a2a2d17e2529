"""A Python loop of scikit-learn ``Lasso`` / ``MultiTaskLasso`` (forward only).

Tolerance matched to ours: scikit-learn minimizes ``n · P`` (``½||y - Xw||² + n α ||w||₁``) and,
once the largest coordinate update is ``<= tol · max|w|``, stops when its duality gap (same
rescaled-residual dual point as ours) is ``<= tol · ||y||²``. In our units that is
``(P - D) / P(0) <= 2 tol`` with ``P(0) = ||y||² / (2n)``, so ``tol_sklearn = tol / 2`` stops at
our relative gap ``tol``; the extra update criterion can only make scikit-learn run longer.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.cases import REGRESSION_TOL, Case
from benchmarks.data import regression_data
from benchmarks.methods.base import Output, Runner, Unavailable

SKLEARN_TOL = REGRESSION_TOL / 2


class SklearnLoop(Runner):
    """One ``fit`` per task, on Fortran-ordered arrays of the problem's dtype (prepared once)."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        from sklearn.linear_model import Lasso, MultiTaskLasso

        p = case.problem
        if p.layer != "group_lasso":
            raise Unavailable(f"no scikit-learn baseline for {p.layer}")
        data = regression_data(p)
        t = case.tasks
        self.estimator = Lasso if p.k == 1 else MultiTaskLasso
        self.X = [np.asfortranarray(F.numpy()) for F in data.features[:t]]
        self.y = [y.numpy().copy() for y in data.targets[:t]]
        self.alphas = [float(a) for a in data.lam[:t]]

    def forward(self) -> Output:
        coefs = []
        for X, y, alpha in zip(self.X, self.y, self.alphas, strict=True):
            model = self.estimator(alpha=alpha, fit_intercept=False, tol=SKLEARN_TOL)
            coefs.append(model.fit(X, y).coef_)
        return Output(torch.from_numpy(np.stack(coefs)))
