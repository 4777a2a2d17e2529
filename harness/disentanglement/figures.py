"""Figures of the disentanglement experiments, drawn from results rows only.

- ``<metric>_vs_lambda.png`` for metric ∈ {mcc (Fig. 4, 9, 10), r (Fig. 6), dci_d (Fig. 15)}:
  one panel per method, metric (mean ± std over seeds) against λ/λ_max with one curve per value
  of the varying setting (ρ, α, or the weight distribution: Fig. 8's block sizes); a last panel
  shows each method at its best λ against that setting.
- ``traversal_<run_id>.png`` (Fig. 11–14): each learned feature as one factor is varied.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from harness.data import FACTOR_NAMES
from harness.plotting import save_figure

METRICS = {"mcc": "MCC", "r": "R score", "dci_d": "DCI disentanglement"}
SETTINGS = ("rho", "alpha", "weights")


def varying_setting(rows: list[dict[str, Any]]) -> str:
    """The setting (ρ, α or weights) taking several values in ``rows`` (ρ if none does)."""
    for key in SETTINGS:
        if len({row[key] for row in rows}) > 1:
            return key
    return "rho"


def _stats(values: list[float]) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values))


def metric_figure(rows: list[dict[str, Any]], metric: str, out: Path) -> Path:
    """Metric against λ per method and setting, plus best-λ against the setting."""
    setting = varying_setting(rows)
    methods = sorted({row["method"] for row in rows})
    fig, axes = plt.subplots(1, len(methods) + 1, figsize=(3.6 * (len(methods) + 1), 3.2))
    best: dict[str, dict[Any, tuple[float, float]]] = defaultdict(dict)
    for ax, method in zip(axes, methods, strict=False):
        groups: dict[Any, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
        for row in rows:
            if row["method"] == method:
                groups[row[setting]][row["lam"]].append(row[metric])
        for value in sorted(groups):
            lams = sorted(groups[value])
            stats = [_stats(groups[value][lam]) for lam in lams]
            means, stds = np.array(stats).T
            ax.errorbar(lams, means, yerr=stds, marker="o", capsize=2, label=f"{value}")
            best[method][value] = stats[int(np.argmax(means))]
        ax.set_xscale("symlog", linthresh=0.01)
        ax.set_title(method)
        ax.set_xlabel("λ (outer)" if method == "outer-lasso" else "λ / λ_max")
        ax.set_ylabel(METRICS[metric])
        ax.legend(title=setting, fontsize=7)
        ax.grid(alpha=0.3)
    ax = axes[-1]
    for method, by_value in best.items():
        values = sorted(by_value)
        means, stds = np.array([by_value[v] for v in values]).T
        ax.errorbar([str(v) for v in values], means, yerr=stds, marker="o", capsize=2, label=method)
    ax.set_title("best λ")
    ax.set_xlabel(setting)
    ax.set_ylabel(METRICS[metric])
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, out / f"{metric}_vs_lambda.png")


def traversal_figure(row: dict[str, Any], out: Path) -> Path:
    """Learned features (one curve each) as each true factor is varied (one panel each)."""
    data = row["traversals"]
    fig, axes = plt.subplots(1, len(data["values"]), figsize=(2.6 * len(data["values"]), 2.6))
    for i, ax in enumerate(axes):
        features = np.asarray(data["features"][i])
        features = features - features.mean(0)  # each feature's variation along this factor
        for j in range(features.shape[1]):
            ax.plot(data["values"][i], features[:, j], marker=".", label=f"ẑ{j}")
        ax.set_title(FACTOR_NAMES[i], fontsize=9)
        ax.set_xlabel(f"z{i}")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("ẑ − mean")
    axes[-1].legend(fontsize=6)
    fig.suptitle(f"{row['run_id']}  (MCC {row['mcc']:.2f})", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, out / f"traversal_{row['run_id']}.png")


def plot_rows(rows: list[dict[str, Any]], out: Path) -> list[Path]:
    """Every figure of ``rows``: one per metric, traversals of the best and worst run by MCC."""
    if not rows:
        raise ValueError("results: no finished runs to plot")
    out = Path(out)
    paths = [metric_figure(rows, metric, out) for metric in METRICS]
    ranked = sorted((r for r in rows if "traversals" in r), key=lambda r: r["mcc"])
    for row in {id(r): r for r in ranked[-1:] + ranked[:1]}.values():
        paths.append(traversal_figure(row, out))
    return paths
