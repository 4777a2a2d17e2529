"""Disentanglement metrics (paper Appendix D.2.2 and D.2.7).

All take ground-truth latents z (N, d) and learned features ẑ (N, m), as numpy arrays or torch
tensors, and return floats.

- `mcc`: mean correlation coefficient, MCC = max_π (1/d) Σ_i |C_{i,π(i)}| with C the Pearson
  correlations between z and ẑ, the permutation found by `scipy.optimize.linear_sum_assignment`
  (Hyvärinen & Morioka, 2016).
- `multiple_correlation`: R, the mean over true latents of the coefficient of multiple
  correlation sqrt(R²) of the linear regression ẑ → z_i (with intercept, in-sample).
  It measures linear identifiability and MCC ≤ R.
- `dci`: DCI disentanglement and completeness (Eastwood & Williams, 2018) from the importance
  matrix I = |coef| of that same regression.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from sklearn.linear_model import LinearRegression
from sklearn.metrics import r2_score

ArrayLike = np.ndarray | torch.Tensor


@dataclass(frozen=True)
class DCIScores:
    """DCI scores in [0, 1]; 1 means each code captures one factor / each factor one code."""

    disentanglement: float
    completeness: float


def mcc(z: ArrayLike, z_hat: ArrayLike) -> float:
    """Mean correlation coefficient between z (N, d) and ẑ (N, m).

    The optimal assignment matches min(d, m) pairs; MCC is the mean |correlation| over them.
    """
    corr, rows, cols = _assignment(z, z_hat)
    return float(corr[rows, cols].mean())


def matched_correlations(z: ArrayLike, z_hat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    """(|C|, order): the |Pearson correlations| (d, m) between z_i (rows) and ẑ_j (columns)
    with the columns reordered by the optimal assignment, and that order (m,) of the features.

    When d <= m, column i is the feature matched to z_i and the MCC is the mean of the leading
    diagonal; unmatched features come last.
    """
    corr, rows, cols = _assignment(z, z_hat)
    order = np.concatenate([cols[np.argsort(rows)], np.setdiff1d(np.arange(corr.shape[1]), cols)])
    return corr[:, order], order


def _assignment(z: ArrayLike, z_hat: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(|C| (d, m), matched rows, matched columns) of the optimal assignment."""
    z, z_hat = _standardized_pair(z, z_hat)
    corr = np.abs(z.T @ z_hat) / z.shape[0]  # (d, m) Pearson correlations
    rows, cols = linear_sum_assignment(corr, maximize=True)
    return corr, rows, cols


def multiple_correlation(z: ArrayLike, z_hat: ArrayLike) -> float:
    """R: mean over i of sqrt(R²_i), R²_i of the in-sample regression ẑ → z_i (with intercept)."""
    z, z_hat = _standardized_pair(z, z_hat)
    prediction = LinearRegression().fit(z_hat, z).predict(z_hat)
    r2 = r2_score(z, prediction, multioutput="raw_values")
    # In-sample R² is >= 0 up to rounding; clip the rounding before the square root.
    return float(np.mean(np.sqrt(np.clip(r2, 0.0, None))))


def importance_matrix(z: ArrayLike, z_hat: ArrayLike) -> np.ndarray:
    """I (m, d): I[j, i] = |coef| of code ẑ_j in the regression ẑ → z_i (standardized data)."""
    z, z_hat = _standardized_pair(z, z_hat)
    return np.abs(LinearRegression().fit(z_hat, z).coef_).T


def dci(z: ArrayLike, z_hat: ArrayLike) -> DCIScores:
    """DCI disentanglement and completeness from I = |coef| of the regression ẑ → z.

    With P the importance normalized over factors for each code j and P̃ over codes for each
    factor i, and entropies in base d (resp. m) so that they lie in [0, 1]:
        D = Σ_j ρ_j (1 − H_d(P_j·)),    ρ_j = Σ_i I_ji / Σ I     (Eastwood & Williams, 2018)
        C = Σ_i ρ̃_i (1 − H_m(P̃_·i)),   ρ̃_i = Σ_j I_ji / Σ I
    This follows the paper's released code (importance-weighted averages on standardized z and
    ẑ). The text of Appendix D.2.7 writes unweighted means and swaps the roles of rows and
    columns in its wording; with d = m the weights only matter for unbalanced importances.
    """
    imp = importance_matrix(z, z_hat)  # (m, d)
    total = imp.sum()
    if total == 0:
        return DCIScores(0.0, 0.0)
    per_code = 1.0 - _entropy(imp, axis=1)
    per_factor = 1.0 - _entropy(imp, axis=0)
    return DCIScores(
        disentanglement=float(np.sum(per_code * imp.sum(1) / total)),
        completeness=float(np.sum(per_factor * imp.sum(0) / total)),
    )


def _entropy(imp: np.ndarray, axis: int) -> np.ndarray:
    """Entropy along ``axis`` of imp normalized along it, in base imp.shape[axis] (0 if size 1)."""
    k = imp.shape[axis]
    if k == 1:
        return np.zeros(imp.shape[1 - axis])
    sums = imp.sum(axis, keepdims=True)
    p = np.where(sums > 0, imp / np.where(sums > 0, sums, 1.0), 1.0 / k)
    plogp = np.where(p > 0, p * np.log(np.where(p > 0, p, 1.0)), 0.0)
    return -plogp.sum(axis) / np.log(k)


def _standardized_pair(z: ArrayLike, z_hat: ArrayLike) -> tuple[np.ndarray, np.ndarray]:
    z, z_hat = _as_matrix(z, "z"), _as_matrix(z_hat, "z_hat")
    if z.shape[0] != z_hat.shape[0]:
        raise ValueError(f"z_hat: {z_hat.shape[0]} samples, but z has {z.shape[0]}")
    if z.shape[0] < 2:
        raise ValueError(f"z: at least 2 samples are needed, got {z.shape[0]}")
    return _standardize(z, "z"), _standardize(z_hat, "z_hat")


def _as_matrix(x: ArrayLike, name: str) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().double().numpy()
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"{name}: expected shape (N, dim), got {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError(f"{name}: contains NaN or infinite values")
    return x


def _standardize(x: np.ndarray, name: str) -> np.ndarray:
    std = x.std(0)
    if np.any(std == 0):
        raise ValueError(f"{name}: columns {np.flatnonzero(std == 0).tolist()} are constant")
    return (x - x.mean(0)) / std
