"""A Python loop of celer 0.7.4 ``Lasso`` / ``MultiTaskLasso`` (forward only; working sets with
dual extrapolation, Massias et al., ICML 2018).

Tolerance matched to ours. celer minimizes our objective in our units
(``1/(2n)||y - Xw||² + α Σ_j ||w_j||``, ``α = λ``) and stops when its duality gap is
``<= tol · ||y||² / n`` (``lasso_fast.pyx``: "omit division by 2 to match sklearn";
``multitask_fast.pyx``: ``tol *= norm_Y2 / n_samples``), i.e. ``(P - D)/P(0) <= 2 tol`` with
``P(0) = ||y||²/(2n)``: ``tol_celer = REGRESSION_TOL / 2`` stops at our relative gap, as for
scikit-learn. One difference in the certificate: celer's ``D`` is the best of several dual
points (the rescaled residual, which is ours, and its extrapolated point), so at its stop the gap
that ``measure.py`` evaluates at the rescaled residual can be above ``REGRESSION_TOL`` while
celer's own is below: quick headline problem, float32, m = 256, 64 tasks, no convergence
warning, celer's gap <= 1e-6 on every task, ours up to 2.1e-5 (weight error 3e-4 against the
reference). Fed float64 it behaves the same (ours up to 5.2e-5 on that problem while celer's is
7.2e-7), so celer gets the problem's dtype, as scikit-learn does.

``MultiTaskLasso`` (k > 1) calls ``BaseEstimator._validate_data``, which scikit-learn 1.6 removed;
with the scikit-learn installed here it raises ``AttributeError`` and the case is recorded as
failed with that message.
"""

from __future__ import annotations

from benchmarks.cases import REGRESSION_TOL
from benchmarks.methods.base import Unavailable
from benchmarks.methods.estimator_loop import EstimatorLoop

CELER_TOL = REGRESSION_TOL / 2

NOTE = (
    "celer: stops when its duality gap <= tol * ||y||^2 / n, so tol = 1e-6 / 2 is our relative "
    "gap 1e-6; its certificate takes the best of its dual points (residual and extrapolated), "
    "so the gap measured at the residual point can exceed 1e-6 (quick headline, m = 256: up to "
    "2e-5 while celer's own is <= 1e-6). Its MultiTaskLasso is broken with scikit-learn >= 1.6 "
    "(BaseEstimator._validate_data was removed)."
)
"""What the report says about this baseline's tolerance matching."""


class CelerLoop(EstimatorLoop):
    """celer's ``Lasso`` (k = 1) or ``MultiTaskLasso`` (k > 1), default solver settings."""

    library = "celer"

    def estimator_class(self, k: int) -> type:
        try:
            import celer
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise Unavailable(f"celer is not installed (pip install '.[bench]'): {err}") from err
        self.library = f"celer {celer.__version__}"
        return celer.Lasso if k == 1 else celer.MultiTaskLasso

    def tol(self, alpha: float) -> float:
        return CELER_TOL
