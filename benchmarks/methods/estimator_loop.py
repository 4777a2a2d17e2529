"""A Python loop of one scikit-learn-style estimator ``fit`` per task (forward only): what a user
of a coordinate-descent library writes to solve a batch of Lasso / MultiTaskLasso problems.

Per task ``t``, features ``X_t (n, m)`` (Fortran-ordered, prepared once, outside the timed call),
targets ``y_t (n,)`` or ``Y_t (n, k)`` and the absolute ``α_t = λ_t`` of the problem:

    min_w  1/(2n) ||y_t - X_t w||² + α_t Σ_j ||w_j||₂        (k = 1: Lasso, k > 1: MultiTaskLasso)

with ``fit_intercept=False`` and ``warm_start=False`` (each fit starts from zero). A subclass names
the estimator classes, the tolerance it passes for a task (the matching is the subclass's
docstring) and the dtype it is fed.
"""

from __future__ import annotations

import numpy as np
import torch

from benchmarks.cases import Case
from benchmarks.data import regression_data
from benchmarks.methods.base import Output, Runner, Unavailable


class EstimatorLoop(Runner):
    """One ``fit`` per task; ``coef_`` ``(m,)`` or ``(k, m)`` stacked to the weights.

    A library error inside ``fit`` is re-raised as a ``RuntimeError`` naming the library and
    the estimator, with the first line of the original message (numba's are pages long), so that
    ``run_case`` records the baseline as failed with a readable reason.
    """

    library = ""
    """Name (and version) of the library, for error messages."""

    def estimator_class(self, k: int) -> type:
        """The estimator for ``k`` outputs (``Lasso`` for ``k = 1``, ``MultiTaskLasso`` else)."""
        raise NotImplementedError

    def tol(self, alpha: float) -> float:
        """The ``tol`` argument for a task of absolute regularization ``alpha``."""
        raise NotImplementedError

    def input_dtype(self, dtype: np.dtype) -> np.dtype:
        """The dtype the arrays are given in (the problem's by default)."""
        return dtype

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        p = case.problem
        if p.layer != "group_lasso":
            raise Unavailable(f"no {self.library} baseline for {p.layer}")
        data = regression_data(p)
        t = case.tasks
        self.estimator = self.estimator_class(p.k)
        self.out_dtype = data.features.dtype
        dtype = self.input_dtype(data.features.numpy().dtype)
        self.X = [np.asfortranarray(F.numpy(), dtype=dtype) for F in data.features[:t]]
        self.y = [np.array(y.numpy(), dtype=dtype, order="F") for y in data.targets[:t]]
        self.alphas = [float(a) for a in data.lam[:t]]
        self.tols = [self.tol(a) for a in self.alphas]

    def forward(self) -> Output:
        coefs = []
        for X, y, alpha, tol in zip(self.X, self.y, self.alphas, self.tols, strict=True):
            model = self.estimator(alpha=alpha, tol=tol, fit_intercept=False, warm_start=False)
            try:
                coefs.append(model.fit(X, y).coef_)
            except Exception as err:
                first = str(err).strip().splitlines()[0] if str(err).strip() else ""
                name = f"{self.library} {self.estimator.__name__}.fit"
                raise RuntimeError(f"{name} failed: {type(err).__name__}: {first}") from err
        return Output(torch.from_numpy(np.stack(coefs)).to(self.out_dtype))
