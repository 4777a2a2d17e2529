"""Figures of the disentanglement experiments, drawn from results rows only.

- ``<metric>_vs_lambda.png`` for metric ∈ {mcc (Fig. 4, 8, 9, 10), r (Fig. 6), dci_d (Fig. 15)}:
  one panel per method, the metric (mean ± std over seeds) against λ/λ_max with one curve per
  value of the varying setting (ρ, α, or the weight distribution: Fig. 8's block sizes); a last
  panel shows each method at its best λ against that setting, chosen two ways (`best_lambda`).
  Drawn only when some curve has two λ or more.
- ``correlations.png``: per run, the |correlation| matrix between the true factors and the
  learned features in the order of the optimal assignment, titled with its MCC.
- ``traversal_<run_id>.png`` (Fig. 11–14): the learned features as each factor is varied alone.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from harness.data import FACTOR_NAMES
from harness.plotting import save_figure

METRICS = {"mcc": "MCC", "r": "R score", "dci_d": "DCI disentanglement"}
SETTINGS = ("rho", "alpha", "weights")
SELECTIONS = {
    "test": "best test MCC per seed (the authors' figures)",
    "validation": "lowest held-out validation MSE per seed",
}


def varying_setting(rows: list[dict[str, Any]]) -> str:
    """The setting (ρ, α or weights) taking several values in ``rows`` (ρ if none does)."""
    for key in SETTINGS:
        if len({row[key] for row in rows}) > 1:
            return key
    return "rho"


def label(row: dict[str, Any]) -> str:
    """A short name of a row's method and λ, e.g. ``inner-lasso λ/λmax=0.1``."""
    unit = "λ" if row["method"].startswith("outer") else "λ/λmax"
    return f"{row['method']} {unit}={row['lam']:g}"


def best_lambda(
    rows: Iterable[dict[str, Any]], selection: str, metric: str = "mcc"
) -> list[dict[str, Any]]:
    """The row of the selected λ for each seed among ``rows`` (one method and setting).

    ``selection`` is ``"test"`` (the λ of highest ``metric`` on the grid, per seed: what the
    authors' figure scripts report) or ``"validation"`` (the λ of lowest ``val_heldout_mse``,
    a criterion that sees no ground-truth latent).
    """
    if selection not in SELECTIONS:
        raise ValueError(f"selection: unknown {selection!r}; choose from {list(SELECTIONS)}")
    by_seed: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_seed[row["seed"]].append(row)
    if selection == "test":
        return [max(group, key=lambda r: r[metric]) for group in by_seed.values()]
    return [min(group, key=lambda r: r["val_heldout_mse"]) for group in by_seed.values()]


def _stats(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def _curves(rows: list[dict[str, Any]], method: str, setting: str, metric: str):
    groups: dict[Any, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for row in rows:
        if row["method"] == method:
            groups[row[setting]][row["lam"]].append(row[metric])
    return groups


def has_lambda_curves(rows: list[dict[str, Any]]) -> bool:
    """Whether some method and setting has rows at two λ or more."""
    setting = varying_setting(rows)
    keys = defaultdict(set)
    for row in rows:
        keys[(row["method"], row[setting])].add(row["lam"])
    return any(len(lams) > 1 for lams in keys.values())


def metric_figure(rows: list[dict[str, Any]], metric: str, out: Path) -> Path:
    """The metric against λ per method and setting, plus best λ against the setting."""
    setting = varying_setting(rows)
    methods = sorted({row["method"] for row in rows})
    fig, axes = plt.subplots(1, len(methods) + 1, figsize=(3.6 * (len(methods) + 1), 3.3))
    for ax, method in zip(axes, methods, strict=False):
        groups = _curves(rows, method, setting, metric)
        for value in sorted(groups):
            lams = sorted(groups[value])
            means, stds = np.array([_stats(groups[value][lam]) for lam in lams]).T
            ax.errorbar(lams, means, yerr=stds, marker="o", capsize=2, label=f"{value}")
        ax.set_xscale("symlog", linthresh=0.01 if not method.startswith("outer") else 0.001)
        ax.set_title(method)
        ax.set_xlabel("λ (outer)" if method.startswith("outer") else "λ / λ_max")
        ax.set_ylabel(METRICS[metric])
        ax.legend(title=setting, fontsize=7)
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for i, method in enumerate(methods):
        mine = [r for r in rows if r["method"] == method]
        values = sorted({r[setting] for r in mine})
        for selection, style in (("test", "-"), ("validation", ":")):
            stats = [
                _stats(
                    [
                        r[metric]
                        for r in best_lambda((r for r in mine if r[setting] == v), selection, "mcc")
                    ]
                )
                for v in values
            ]
            means, stds = np.array(stats).T
            ax.errorbar(
                [str(v) for v in values],
                means,
                yerr=stds,
                marker="o",
                linestyle=style,
                color=f"C{i}",
                capsize=2,
                label=method if selection == "test" else None,
            )
    ax.set_title("best λ (solid: by test MCC, dotted: by validation)", fontsize=8)
    ax.set_xlabel(setting)
    ax.set_ylabel(METRICS[metric])
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out / f"{metric}_vs_lambda.png")


def correlation_figure(rows: list[dict[str, Any]], out: Path, name: str = "correlations") -> Path:
    """One heatmap per row: |corr(z_i, ẑ_π(i))| with π the optimal assignment."""
    fig, axes = plt.subplots(1, len(rows), figsize=(3.4 * len(rows) + 1.4, 3.7), squeeze=False)
    for k, (ax, row) in enumerate(zip(axes[0], rows, strict=True)):
        corr = np.asarray(row["abs_corr"])
        image = ax.imshow(corr, vmin=0, vmax=1, cmap="viridis")
        for (i, j), value in np.ndenumerate(corr):
            ax.text(
                j,
                i,
                f"{value:.2f}",
                ha="center",
                va="center",
                fontsize=6.5,
                color="white" if value < 0.6 else "black",
            )
        ax.set_yticks(range(corr.shape[0]), FACTOR_NAMES[: corr.shape[0]] if k == 0 else [])
        ax.set_xticks(range(corr.shape[1]), [f"ẑ{j}" for j in row["feature_order"]], fontsize=7)
        ax.set_xlabel("learned feature (matched order)", fontsize=8)
        ax.set_title(f"{label(row)}\nρ={row['rho']:g}   MCC {row['mcc']:.3f}", fontsize=9)
        ax.tick_params(labelsize=7)
    fig.colorbar(image, ax=axes[0].tolist(), shrink=0.8, label="|correlation|")
    return save_figure(fig, out / f"{name}.png")


def traversal_figure(row: dict[str, Any], out: Path) -> Path:
    """The learned features as each true factor is varied alone (one panel per factor); the
    feature matched to the factor is drawn thick, the others thin."""
    data = row["traversals"]
    order = row.get("feature_order", list(range(len(data["features"][0][0]))))
    fig, axes = plt.subplots(1, len(data["values"]), figsize=(2.5 * len(data["values"]), 2.7))
    for i, ax in enumerate(axes):
        features = np.asarray(data["features"][i])
        features = features - features.mean(0)  # each feature's variation along this factor
        for k, j in enumerate(order):
            ax.plot(
                data["values"][i],
                features[:, j],
                color=f"C{k}",
                linewidth=2.4 if k == i else 0.9,
                alpha=1.0 if k == i else 0.6,
                label=f"ẑ{j}",
            )
        ax.set_title(f"vary {FACTOR_NAMES[i]}", fontsize=9)
        ax.set_xlabel(f"z{i} (standardized)", fontsize=8)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("learned feature − its mean")
    axes[-1].legend(fontsize=6, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    fig.suptitle(
        f"{label(row)}, ρ={row['rho']:g}: MCC {row['mcc']:.3f} (disentangled: one line moves "
        "per panel, the thick one)",
        fontsize=9,
    )
    fig.tight_layout()
    return save_figure(fig, out / f"traversal_{row['run_id']}.png")


def plot_rows(rows: list[dict[str, Any]], out: Path, traversals: bool = True) -> list[Path]:
    """Every figure of ``rows``: the metric figures when λ varies, the correlation heatmaps of
    up to 4 runs (best and worst by MCC, or all), and (``traversals``) the traversals of the
    best and worst run."""
    if not rows:
        raise ValueError("results: no finished runs to plot")
    out = Path(out)
    paths = []
    if has_lambda_curves(rows):
        paths += [metric_figure(rows, metric, out) for metric in METRICS]
    ranked = sorted(rows, key=lambda r: r["mcc"], reverse=True)
    shown = ranked if len(ranked) <= 4 else ranked[:2] + ranked[-2:]
    paths.append(correlation_figure(shown, out))
    with_traversals = [r for r in ranked if "traversals" in r] if traversals else []
    for row in {r["run_id"]: r for r in with_traversals[:1] + with_traversals[-1:]}.values():
        paths.append(traversal_figure(row, out))
    return paths
