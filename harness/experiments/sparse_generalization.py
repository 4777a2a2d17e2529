"""``sparse-generalization``: disentanglement + sparsity generalize from few samples (Section 2).

Figure 1 and Appendix D.1. Ground-truth features z ~ N(0, Σ), Σ_ij = 0.9^|i−j|, m = 100; labels
y = w·z + ε, ε ~ N(0, 0.04), with w ~ N(0, I) masked to ℓ non-zeros, ℓ/m ∈ {5%, 20%, 80%}.
The disentangled representation is z itself, the entangled one L z with L a random orthogonal
matrix (same conditioning). Lasso and Ridge (no intercept: the data are centred) are fit on
n ∈ {25, ..., 150} training samples, λ chosen by 5-fold cross-validation, and scored by R² on
1,000 test samples; 10 seeds, mean ± standard error.

Every fit is a `sparselayers` layer: per seed and n, one `group_lasso` call solves all
(ℓ/m, representation, fold, λ) problems as tasks with a per-task λ tensor, one more refits the
selected λ; likewise `ridge`. Per seed, w̄ and the support order are drawn once and the supports
are nested across ℓ/m; training sets are nested across n (the first n of 150 samples).
"""

from __future__ import annotations

import argparse
import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np
import sparselayers as sl
import torch
from scipy.stats import ortho_group
from tqdm import tqdm

from harness.crossval import CrossValidated, cross_validate
from harness.plotting import save_figure
from harness.results import write_results

NAME = "sparse-generalization"
HELP = "Section 2 / Fig. 1: Lasso vs Ridge on disentangled vs entangled features (D.1)"
REPRESENTATIONS = ("Disentangled", "Entangled")
ESTIMATORS = ("Lasso", "Ridge")
METHODS = tuple(f"{r}-{e}" for e in ESTIMATORS for r in REPRESENTATIONS)


@dataclass(frozen=True)
class StudyConfig:
    """Settings of the study (defaults: the paper's Appendix D.1).

    Attributes:
        n_features: m.
        feature_correlation: c in Σ_ij = c^|i−j|.
        noise_variance: variance of ε.
        sparsities: the ℓ/m values (ℓ = round(ℓ/m · m)).
        train_sizes: the n values.
        n_test: test samples per seed.
        n_folds: K of the cross-validation.
        seeds: number of seeds (0, 1, ..., seeds - 1).
        lasso_lambdas: L, size of the Lasso grid λ_max · logspace(0, log10(lasso_min_ratio), L)
            with λ_max = ||Fᵀy||_∞ / n on the training set (scikit-learn LassoCV's grid).
        lasso_min_ratio: smallest λ / λ_max of the Lasso grid.
        ridge_lambdas: size of the Ridge grid s · logspace(log10(max), log10(min), L) with
            s = ||F||²_F / n (the library's relative scale).
        ridge_ratio_range: (largest, smallest) λ / s of the Ridge grid.
        tol: relative duality gap at which the Lasso solver stops.
        max_iter: iteration budget of the Lasso solver per call.
        dtype: "float64" or "float32".
        device: torch device.
    """

    n_features: int = 100
    feature_correlation: float = 0.9
    noise_variance: float = 0.04
    sparsities: tuple[float, ...] = (0.05, 0.2, 0.8)
    train_sizes: tuple[int, ...] = (25, 50, 75, 100, 125, 150)
    n_test: int = 1000
    n_folds: int = 5
    seeds: int = 10
    lasso_lambdas: int = 12
    lasso_min_ratio: float = 1e-3
    ridge_lambdas: int = 30
    ridge_ratio_range: tuple[float, float] = field(default=(10.0, 1e-7))
    tol: float = 1e-4
    max_iter: int = 5000
    dtype: str = "float64"
    device: str = "cpu"

    def __post_init__(self) -> None:
        if self.n_features < 1:
            raise ValueError(f"n_features must be >= 1, got {self.n_features}")
        if not -1 < self.feature_correlation < 1:
            raise ValueError(f"feature_correlation must lie in (-1, 1), got {self.feature_correlation}")
        if self.noise_variance < 0:
            raise ValueError(f"noise_variance must be >= 0, got {self.noise_variance}")
        if not self.sparsities or not all(0 < s <= 1 for s in self.sparsities):
            raise ValueError(f"sparsities must lie in (0, 1], got {self.sparsities}")
        if not self.train_sizes or min(self.train_sizes) < self.n_folds:
            raise ValueError(f"train_sizes must be >= n_folds ({self.n_folds}), got {self.train_sizes}")
        if self.seeds < 1:
            raise ValueError(f"seeds must be >= 1, got {self.seeds}")
        if self.dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {self.dtype!r}")
        torch.device(self.device)  # raises on an unknown device string


@dataclass(frozen=True)
class Simulation:
    """Data of one seed (torch tensors on the study's device and dtype).

    Attributes:
        train_features: (2, n_max, m), disentangled z and entangled L z.
        test_features: (2, n_test, m).
        train_targets: (S, n_max), one row per ℓ/m.
        test_targets: (S, n_test).
        weights: (S, m) ground-truth w.
    """

    train_features: torch.Tensor
    test_features: torch.Tensor
    train_targets: torch.Tensor
    test_targets: torch.Tensor
    weights: torch.Tensor


def simulate(config: StudyConfig, seed: int) -> Simulation:
    """Draw the data of ``seed`` (Appendix D.1)."""
    rng = np.random.default_rng(seed)
    m = config.n_features
    lags = np.abs(np.subtract.outer(np.arange(m), np.arange(m)))
    cov = config.feature_correlation**lags
    n_max = max(config.train_sizes)
    z = rng.multivariate_normal(np.zeros(m), cov, size=n_max + config.n_test, method="cholesky")
    mixing = ortho_group.rvs(m, random_state=rng) if m > 1 else np.ones((1, 1))
    w_bar, order = rng.standard_normal(m), rng.permutation(m)
    rank = np.empty(m, dtype=np.int64)
    rank[order] = np.arange(m)
    support_sizes = [max(1, round(s * m)) for s in config.sparsities]
    weights = np.stack([w_bar * (rank < size) for size in support_sizes])  # (S, m)
    noise = rng.normal(0.0, math.sqrt(config.noise_variance), (len(support_sizes), z.shape[0]))
    y = weights @ z.T + noise  # (S, n_max + n_test)
    features = np.stack([z, z @ mixing.T])  # entangled features L z
    to = {"dtype": getattr(torch, config.dtype), "device": torch.device(config.device)}
    return Simulation(
        train_features=torch.as_tensor(features[:, :n_max], **to),
        test_features=torch.as_tensor(features[:, n_max:], **to),
        train_targets=torch.as_tensor(y[:, :n_max], **to),
        test_targets=torch.as_tensor(y[:, n_max:], **to),
        weights=torch.as_tensor(weights, **to),
    )


def lasso_fitter(config: StudyConfig):
    """Lasso through ``sl.functional.group_lasso`` (k = 1), returning (weights, converged)."""

    def fit(F: torch.Tensor, y: torch.Tensor, lam: torch.Tensor):
        sol = sl.functional.group_lasso(F, y, lam, tol=config.tol, max_iter=config.max_iter)
        return sol.weights, sol.converged

    return fit


def ridge_fitter(config: StudyConfig):
    """Ridge through ``sl.functional.ridge``, returning (weights, converged)."""

    def fit(F: torch.Tensor, y: torch.Tensor, lam: torch.Tensor):
        sol = sl.functional.ridge(F, y, lam)
        return sol.weights, sol.converged

    return fit


def lambda_grids(config: StudyConfig, F: torch.Tensor, y: torch.Tensor) -> dict[str, torch.Tensor]:
    """λ grids (..., L) of the Lasso and the Ridge for F (..., n, m), y (..., n)."""
    n = F.shape[-2]
    to = {"dtype": F.dtype, "device": F.device}
    lasso_max = (F.mT @ y.unsqueeze(-1)).abs().amax((-2, -1)) / n
    lasso = lasso_max.unsqueeze(-1) * torch.logspace(
        0.0, math.log10(config.lasso_min_ratio), config.lasso_lambdas, **to
    )
    ridge_scale = (F**2).sum((-2, -1)) / n
    high, low = config.ridge_ratio_range
    ridge = ridge_scale.unsqueeze(-1) * torch.logspace(
        math.log10(high), math.log10(low), config.ridge_lambdas, **to
    )
    return {"Lasso": lasso, "Ridge": ridge}


def r2_score(y: torch.Tensor, prediction: torch.Tensor) -> torch.Tensor:
    """Test R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)² along the last dim."""
    residual = ((y - prediction) ** 2).sum(-1)
    total = ((y - y.mean(-1, keepdim=True)) ** 2).sum(-1)
    return 1.0 - residual / total


def run_seed(config: StudyConfig, seed: int, n: int, data: Simulation) -> dict[str, Any]:
    """Fit all methods on the first ``n`` samples of ``data``; R² (S, 2) per estimator."""
    S = len(config.sparsities)
    F = data.train_features[:, :n].unsqueeze(0).expand(S, -1, -1, -1)  # (S, 2, n, m)
    y = data.train_targets[:, :n].unsqueeze(1).expand(-1, 2, -1)  # (S, 2, n)
    grids = lambda_grids(config, F, y)
    fitters = {"Lasso": lasso_fitter(config), "Ridge": ridge_fitter(config)}
    out: dict[str, Any] = {}
    for estimator, fit in fitters.items():
        with warnings.catch_warnings():
            # Non-convergence is counted in the results instead (cv_unconverged).
            warnings.simplefilter("ignore", RuntimeWarning)
            with torch.no_grad():
                cv: CrossValidated = cross_validate(fit, F, y, grids[estimator], config.n_folds)
        prediction = data.test_features @ cv.weights.unsqueeze(-1)  # (S, 2, n_test, 1)
        out[estimator] = {
            "r2": r2_score(data.test_targets.unsqueeze(1), prediction.squeeze(-1)),
            "lam": cv.lam,
            "lam_index": cv.lam_index,
            "support_size": (cv.weights != 0).sum(-1),
            "cv_unconverged": cv.cv_unconverged,
            "refit_unconverged": cv.refit_unconverged,
        }
    return out


def run_study(config: StudyConfig, progress: bool = True) -> dict[str, Any]:
    """Run every seed and size; returns the results document (rows + diagnostics)."""
    S, N = len(config.sparsities), len(config.train_sizes)
    shape = (config.seeds, N, S, 2)
    r2 = {e: np.zeros(shape) for e in ESTIMATORS}
    lam = {e: np.zeros(shape) for e in ESTIMATORS}
    support = {e: np.zeros(shape) for e in ESTIMATORS}
    unconverged = {e: {"cv": 0, "refit": 0} for e in ESTIMATORS}
    start = time.perf_counter()
    bar = tqdm(total=config.seeds * N, desc=NAME, disable=not progress)
    for seed in range(config.seeds):
        data = simulate(config, seed)
        for i, n in enumerate(config.train_sizes):
            fitted = run_seed(config, seed, n, data)
            for e in ESTIMATORS:
                r2[e][seed, i] = fitted[e]["r2"].cpu().numpy()
                lam[e][seed, i] = fitted[e]["lam"].cpu().numpy()
                support[e][seed, i] = fitted[e]["support_size"].cpu().numpy()
                unconverged[e]["cv"] += fitted[e]["cv_unconverged"]
                unconverged[e]["refit"] += fitted[e]["refit_unconverged"]
            bar.update()
            bar.set_postfix(seed=seed, n=n)
    bar.close()
    runtime = time.perf_counter() - start

    rows = []
    for e in ESTIMATORS:
        for r, representation in enumerate(REPRESENTATIONS):
            for s, sparsity in enumerate(config.sparsities):
                for i, n in enumerate(config.train_sizes):
                    values = r2[e][:, i, s, r]
                    sem = values.std(ddof=1) / math.sqrt(len(values)) if len(values) > 1 else 0.0
                    rows.append(
                        {
                            "method": f"{representation}-{e}",
                            "sparsity": sparsity,
                            "n_samples": n,
                            "r2_mean": float(values.mean()),
                            "r2_sem": float(sem),
                            "r2_per_seed": values.tolist(),
                            "lam_per_seed": lam[e][:, i, s, r].tolist(),
                            "support_size_mean": float(support[e][:, i, s, r].mean()),
                        }
                    )
    return {"rows": rows, "runtime_s": runtime, "unconverged_solves": unconverged}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness sparse-generalization``."""
    defaults = StudyConfig()
    parser.add_argument("--seeds", type=int, default=defaults.seeds, help="number of seeds (default: 10)")
    parser.add_argument("--device", default=defaults.device, help="torch device (default: cpu)")
    parser.add_argument(
        "--dtype", choices=("float64", "float32"), default=defaults.dtype, help="default: float64"
    )
    parser.add_argument(
        "--train-sizes",
        type=int,
        nargs="+",
        default=list(defaults.train_sizes),
        help="training set sizes (default: 25 50 75 100 125 150)",
    )
    parser.add_argument(
        "--sparsities",
        type=float,
        nargs="+",
        default=list(defaults.sparsities),
        help="fractions l/m of useful features (default: 0.05 0.2 0.8)",
    )
    parser.add_argument("--n-test", type=int, default=defaults.n_test, help="test samples (default: 1000)")
    parser.add_argument(
        "--lasso-lambdas", type=int, default=defaults.lasso_lambdas, help="Lasso grid size"
    )
    parser.add_argument(
        "--tol", type=float, default=defaults.tol, help="Lasso relative duality gap tolerance"
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> None:
    """Run the study and write ``results.json`` and ``figure1.png`` into ``args.out``."""
    config = StudyConfig(
        seeds=args.seeds,
        device=args.device,
        dtype=args.dtype,
        train_sizes=tuple(args.train_sizes),
        sparsities=tuple(args.sparsities),
        n_test=args.n_test,
        lasso_lambdas=args.lasso_lambdas,
        tol=args.tol,
    )
    results = run_study(config, progress=not args.no_progress)
    path = write_results(Path(args.out), NAME, asdict(config), **results)
    print(f"wrote {path} ({results['runtime_s']:.0f} s)")
    print(summary_table(results["rows"]))
    for figure in plot(results | {"config": asdict(config)}, Path(args.out)):
        print(f"wrote {figure}")


def summary_table(rows: list[dict[str, Any]]) -> str:
    """A text table: R² mean ± s.e. per method (rows) and (ℓ/m, n) (columns)."""
    keys = sorted({(r["sparsity"], r["n_samples"]) for r in rows})
    lines = ["method".ljust(20) + "".join(f"{f'{s:.0%} n={n}':>16}" for s, n in keys)]
    for method in METHODS:
        cells = {(r["sparsity"], r["n_samples"]): r for r in rows if r["method"] == method}
        line = method.ljust(20)
        for key in keys:
            line += f"{cells[key]['r2_mean']:>9.3f} ±{cells[key]['r2_sem']:.3f}" if key in cells else " " * 16
        lines.append(line)
    return "\n".join(lines)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Figure 1: test R² against n, one panel per ℓ/m, error bars = standard errors."""
    rows = results["rows"]
    sparsities = sorted({r["sparsity"] for r in rows})
    fig, axes = plt.subplots(1, len(sparsities), figsize=(4.2 * len(sparsities), 3.6), sharey=True)
    axes = np.atleast_1d(axes)
    style = {
        "Entangled-Lasso": ("C0", "-", "o"),
        "Disentangled-Lasso": ("C1", "--", "o"),
        "Entangled-Ridge": ("C0", "-", "^"),
        "Disentangled-Ridge": ("C1", "--", "^"),
    }
    lowest = min(r["r2_mean"] - r["r2_sem"] for r in rows)
    for ax, sparsity in zip(axes, sparsities, strict=True):
        for method, (color, linestyle, marker) in style.items():
            points = sorted(
                (r["n_samples"], r["r2_mean"], r["r2_sem"])
                for r in rows
                if r["method"] == method and r["sparsity"] == sparsity
            )
            if not points:
                continue
            n, mean, sem = zip(*points, strict=True)
            ax.errorbar(
                n, mean, yerr=sem, color=color, ls=linestyle, marker=marker, capsize=3,
                lw=1.8, ms=6, alpha=0.85, label=method,
            )  # fmt: skip
        ax.set_title(f"ℓ/m = {sparsity:.0%}")
        ax.set_xlabel("# samples")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test $R^2$")
    axes[0].set_ylim(min(-0.25, lowest - 0.05), 1.02)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.98), ncol=4)
    seeds = results.get("config", {}).get("seeds")
    if seeds:
        fig.text(0.99, 0.01, f"{seeds} seeds, ± s.e.", ha="right", va="bottom", fontsize=8)
    fig.tight_layout()
    return [save_figure(fig, out_dir / "figure1.png")]
