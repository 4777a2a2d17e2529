"""Figure 5 of the paper from a meta-svm results file (Section 5.2).

- right: meta-test accuracy against average column sparsity of the head, one point per lam1
  (lam1 = 0 is the dense MetaOptNet head), with 95% confidence intervals.
- left: fraction of test tasks that use each feature (nonzero column of W), features sorted by
  decreasing usage, one curve per lam1.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from harness.plotting import save_figure


def accuracy_vs_sparsity(rows: list[dict[str, Any]], path: Path) -> Path:
    """Fig. 5 right: accuracy (%) vs average sparsity, one point per row, labelled by lam1."""
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for row in sorted(rows, key=lambda r: r["lam1"]):
        ax.errorbar(
            100 * row["sparsity"],
            100 * row["accuracy"],
            yerr=100 * row["ci95"],
            fmt="o",
            capsize=3,
            label=f"{row['head']} λ1={row['lam1']:g}",
        )
    ax.set_xlabel("average sparsity of W (% zero columns)")
    ax.set_ylabel("meta-test accuracy (%)")
    ax.set_title("5-way accuracy vs sparsity (Fig. 5 right)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def feature_usage(rows: list[dict[str, Any]], path: Path) -> Path:
    """Fig. 5 left: fraction of tasks using each feature, sorted, one curve per lam1."""
    fig, ax = plt.subplots(figsize=(4.5, 3.5))
    for row in sorted(rows, key=lambda r: r["lam1"]):
        usage = np.sort(np.asarray(row["usage"]))[::-1]
        ax.plot(np.arange(usage.size), usage, label=f"{row['head']} λ1={row['lam1']:g}")
    ax.set_xlabel("features (sorted by usage)")
    ax.set_ylabel("fraction of tasks using the feature")
    ax.set_ylim(-0.02, 1.02)
    ax.set_title("Feature usage across test tasks (Fig. 5 left)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    return save_figure(fig, path)


def figure5(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Both panels of Fig. 5 into ``out_dir`` from a results document (its evaluated rows)."""
    rows = [r for r in results["rows"] if "accuracy" in r]
    out_dir = Path(out_dir)
    return [
        accuracy_vs_sparsity(rows, out_dir / "fig5_right_accuracy_vs_sparsity.png"),
        feature_usage(rows, out_dir / "fig5_left_feature_usage.png"),
    ]


__all__ = ["accuracy_vs_sparsity", "feature_usage", "figure5"]
