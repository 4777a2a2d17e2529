"""Settings of the Section 2 study (Figure 1, Appendix D.1): one frozen dataclass, two protocols.

A protocol is a preset (`harness.config.from_preset`) over the dataclass's defaults:

``published`` (the defaults): the protocol that reproduces the authors' published Figure 1 —
    independent latents (Σ = I) and task weights scaled to unit norm, so that the
    signal-to-noise ratio Var(w·z) / Var(ε) is 25 in every panel. Why: `harness.section2.study`.
``text``: Appendix D.1 as written — Σ_ij = 0.9^|i−j| and w ~ N(0, I) masked, unscaled.

The command line maps ``--protocol`` onto the preset and one ``--field-name`` flag onto each
field (`harness.config`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from harness.config import from_preset
from harness.devices import check_device

# The four methods of Figure 1: each estimator on each representation.
REPRESENTATIONS = ("Disentangled", "Entangled")
ESTIMATORS = ("Lasso", "Ridge")
METHODS = tuple(f"{r}-{e}" for e in ESTIMATORS for r in REPRESENTATIONS)
WEIGHT_SCALES = ("unit-norm", "standard")
CV_RULES = ("min", "one-se")


@dataclass(frozen=True)
class StudyConfig:
    """Settings of the study (defaults: the ``published`` protocol).

    Attributes:
        n_features: m.
        feature_correlation: c in Σ_ij = c^|i−j| (0: independent latents).
        weight_scale: ``"unit-norm"`` scales each masked w to ||w||₂ = 1 (signal variance
            w·Σw = 1 when Σ = I); ``"standard"`` keeps w ~ N(0, I) masked (signal variance
            ≈ ℓ, so the signal-to-noise ratio grows with ℓ/m).
        noise_variance: variance of ε.
        sparsities: the ℓ/m values (ℓ = round(ℓ/m · m)).
        train_sizes: the n values.
        n_test: test samples per seed.
        n_folds: K of the cross-validation.
        cv_rule: ``"min"``, the λ of lowest mean validation error (scikit-learn's ``LassoCV``),
            or ``"one-se"``, the largest λ within one standard error of that minimum (glmnet's
            ``lambda.1se``).
        seeds: number of seeds (0, 1, ..., seeds - 1).
        lasso_lambdas: L, size of the Lasso grid λ_max · logspace(0, log10(lasso_min_ratio), L)
            with λ_max = ||Fᵀy||_∞ / n on the training set (scikit-learn LassoCV's grid).
        lasso_min_ratio: smallest λ / λ_max of the Lasso grid.
        ridge_lambdas: size of the Ridge grid s · logspace(log10(max), log10(min), L) with
            s = ||F||²_F / n (the library's relative scale).
        ridge_ratio_range: (largest, smallest) λ / s of the Ridge grid.
        cv_tol: relative duality gap at which the Lasso solver stops in the cross-validation
            solves. Keep it tight: with n < m a loose solve leaves the weights off in directions
            the training loss barely sees, which moves the validation error and the selected λ
            (measured against scikit-learn's LassoCV on the same folds and grid: 1e-3 changed
            test R² by up to 0.1, 1e-4 by 0.03, 1e-6 by < 1e-4).
        tol: relative duality gap of the Lasso refit with the selected λ.
        max_iter: iteration budget of the Lasso solver per call. The small-λ end of the grid
            with n < m on the ill-conditioned Σ (condition number ≈ 340 at c = 0.9) needs up to
            ~10⁴ iterations; at 5,000 tens of cross-validation solves per (seed, n) cell stopped
            short of ``cv_tol`` (relative gap up to 1e-4), which moved validation errors and at
            times the selected λ away from scikit-learn's. Unconverged solves are counted in
            the results (``unconverged_solves``); the default run has none.
        dtype: "float64" or "float32".
        device: torch device.
    """

    n_features: int = 100
    feature_correlation: float = 0.0
    weight_scale: str = "unit-norm"
    noise_variance: float = 0.04
    sparsities: tuple[float, ...] = (0.05, 0.2, 0.8)
    train_sizes: tuple[int, ...] = (25, 50, 75, 100, 125, 150)
    n_test: int = 1000
    n_folds: int = 5
    cv_rule: str = "min"
    seeds: int = 10
    lasso_lambdas: int = 12
    lasso_min_ratio: float = 1e-3
    ridge_lambdas: int = 30
    ridge_ratio_range: tuple[float, float] = field(default=(10.0, 1e-7))
    cv_tol: float = 1e-6
    tol: float = 1e-6
    max_iter: int = 50_000
    dtype: str = "float64"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {self.n_features}")
        if not -1 < self.feature_correlation < 1:
            raise ValueError(
                f"feature_correlation must lie in (-1, 1), got {self.feature_correlation}"
            )
        if self.weight_scale not in WEIGHT_SCALES:
            raise ValueError(
                f"weight_scale: expected one of {list(WEIGHT_SCALES)}, got {self.weight_scale!r}"
            )
        if self.cv_rule not in CV_RULES:
            raise ValueError(f"cv_rule: expected one of {list(CV_RULES)}, got {self.cv_rule!r}")
        if self.noise_variance < 0:
            raise ValueError(f"noise_variance must be >= 0, got {self.noise_variance}")
        if not self.sparsities or not all(0 < s <= 1 for s in self.sparsities):
            raise ValueError(f"sparsities must lie in (0, 1], got {self.sparsities}")
        if not self.train_sizes or min(self.train_sizes) < self.n_folds:
            raise ValueError(
                f"train_sizes must be >= n_folds ({self.n_folds}), got {self.train_sizes}"
            )
        if (
            len(self.ridge_ratio_range) != 2
            or not self.ridge_ratio_range[0] > self.ridge_ratio_range[1] > 0
        ):
            raise ValueError(
                f"ridge_ratio_range must be (largest, smallest) with largest > smallest > 0, "
                f"got {self.ridge_ratio_range}"
            )
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        check_device(self.device)  # an unknown device, or CUDA this machine lacks


PROTOCOLS: dict[str, dict[str, Any]] = {
    "published": {},
    "text": {"feature_correlation": 0.9, "weight_scale": "standard"},
}


def protocol(name: str, **overrides: Any) -> StudyConfig:
    """The `StudyConfig` of protocol ``name`` with fields replaced by ``overrides``."""
    return from_preset(StudyConfig, PROTOCOLS, name, **overrides)


__all__ = [
    "CV_RULES",
    "ESTIMATORS",
    "METHODS",
    "PROTOCOLS",
    "REPRESENTATIONS",
    "WEIGHT_SCALES",
    "StudyConfig",
    "protocol",
]
