"""A Python loop of skglm 0.5 ``Lasso`` / ``MultiTaskLasso`` (forward only; Anderson-accelerated
working-set coordinate descent, Bertrand et al., NeurIPS 2022).

Tolerance matched to ours. skglm minimizes our objective in our units
(``1/(2n)||y - Xw||² + α Σ_j ||w_j||``, ``α = λ``) but does not stop on a duality gap: it stops
when the largest distance of ``-∇_j f(w)`` (``∇f(w) = X^T(Xw - y)/n``) to the subdifferential
``λ ∂||w_j||`` is ``<= tol`` (``ws_strategy="subdiff"``, ``solvers/anderson_cd.py`` and
``solvers/multitask_bcd.py``; ``penalties/separable.py`` and ``block_separable.py`` for the
distance). That violation ``ε`` bounds our relative gap: with ``g = ∇f(w)``, ``r = y - Xw``,

- at ``θ₀ = r/n``: ``P(w) - D(θ₀) = Σ_j <w_j, g_j + λ w_j/||w_j||> <= ε Σ_j ||w_j||``;
- our dual point rescales ``θ₀`` by ``s = max(1, max_j ||g_j|| / λ) <= 1 + ε/λ``, which lowers
  ``D`` by at most ``(1 - 1/s) D(θ₀) <= (ε/λ) P(0)`` (``D(θ₀) <= ||y||²/(2n) = P(0)``);
- coordinate descent from ``w = 0`` (Anderson steps are kept only when they lower ``P``) has
  ``λ Σ_j ||w_j|| <= P(w) <= P(0)``.

So ``(P - D)/P(0) <= 2ε/λ``, and ``tol_skglm = λ · REGRESSION_TOL / 2`` per task guarantees our
``REGRESSION_TOL``. The bound is sufficient, not tight: skglm may run further than needed (on the
quick headline problems it ends about 10× below our tolerance; it costs it about 25 % of its time
against ``tol = λ · 1e-4``).

dtype: skglm is fed float64 copies of the float32 problems (converted outside the timed call),
as a user must: in float32 its gradient cannot resolve a violation of ``λ · 5e-7`` (below
float32's resolution), so it runs to its epoch caps (measured on the quick headline problem at
m = 256: 7 s per task, ending at a relative gap of 1e-2, worse than at ``tol = λ · 1e-4``), and
``MultiTaskLasso`` fails on float32 input (numba ``TypingError``: its ``W`` starts as float64).
The weights are returned in the problem's dtype.
"""

from __future__ import annotations

import numpy as np

from benchmarks.cases import REGRESSION_TOL
from benchmarks.methods.base import Unavailable
from benchmarks.methods.estimator_loop import EstimatorLoop

NOTE = (
    "skglm: stops on the KKT violation max_j dist(-grad_j, lam * subdiff ||w_j||) <= tol, "
    "not on a gap; tol = lam * 1e-6 / 2 per task guarantees our relative gap 1e-6 (a "
    "sufficient bound: it ends about 10x below it). Fed float64 copies of float32 problems "
    "(in float32 it cannot reach that tolerance, and its MultiTaskLasso fails on float32 input)."
)
"""What the report says about this baseline's tolerance matching."""


class SkglmLoop(EstimatorLoop):
    """skglm's ``Lasso`` (k = 1) or ``MultiTaskLasso`` (k > 1), default solver settings."""

    library = "skglm"

    def estimator_class(self, k: int) -> type:
        try:
            import skglm
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise Unavailable(f"skglm is not installed (pip install '.[bench]'): {err}") from err
        self.library = f"skglm {skglm.__version__}"
        return skglm.Lasso if k == 1 else skglm.MultiTaskLasso

    def tol(self, alpha: float) -> float:
        return alpha * REGRESSION_TOL / 2

    def input_dtype(self, dtype: np.dtype) -> np.dtype:
        return np.dtype(np.float64)
