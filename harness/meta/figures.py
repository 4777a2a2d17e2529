"""Figure 5 of the paper from a meta-svm results file (Section 5.2).

- right: meta-test accuracy against the average column sparsity of the head, one point per
  ``λ1 / λ1_max`` joined in order (95% confidence intervals), with the dense SVM (λ1 = 0), the
  ridge head and chance as references.
- left: fraction of test tasks that use each feature (a nonzero column of W), features sorted
  by decreasing usage, one curve per ``λ1 / λ1_max`` (the dense heads use every feature).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from harness.plotting import save_figure


def _svm_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted((r for r in rows if r["head"] == "svm"), key=lambda r: r["lam1"])


def accuracy_vs_sparsity(rows: list[dict[str, Any]], path: Path, way: int | None = None) -> Path:
    """Fig. 5 right: accuracy (%) against average sparsity (%), labelled by λ1 / λ1_max."""
    fig, ax = plt.subplots(figsize=(5.2, 3.8))
    svm = _svm_rows(rows)
    if svm:
        x = [100 * r["sparsity"] for r in svm]
        y = [100 * r["accuracy"] for r in svm]
        ci = [100 * r["ci95"] for r in svm]
        ax.plot(x, y, color="C0", lw=1, alpha=0.6)
        ax.errorbar(x, y, yerr=ci, fmt="o", color="C0", capsize=3, label="group-lasso SVM")
        for row, xi, yi in zip(svm, x, y, strict=True):
            ax.annotate(
                f"{row['lam1']:g}", (xi, yi), textcoords="offset points", xytext=(4, 4),
                fontsize=7,
            )  # fmt: skip
        dense = [r for r in svm if r["lam1"] == 0]
        if dense:
            d = dense[0]
            ax.axhline(100 * d["accuracy"], color="C0", ls=":", lw=1, label="dense SVM (λ1 = 0)")
    for row in rows:
        if row["head"] == "ridge":
            acc, ci = 100 * row["accuracy"], 100 * row["ci95"]
            ax.axhspan(acc - ci, acc + ci, color="C2", alpha=0.15)
            ax.axhline(acc, color="C2", ls="--", lw=1, label="ridge head")
    if way:
        ax.axhline(100 / way, color="grey", ls="-.", lw=1, label=f"chance (1/{way})")
    ax.set_xlabel("average sparsity of W (% zero columns)")
    ax.set_ylabel("meta-test accuracy (%)")
    ax.set_title("Accuracy against sparsity, labels: λ1 / λ1_max", fontsize=10)
    ax.set_xlim(-3, 103)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return save_figure(fig, path)


def feature_usage(rows: list[dict[str, Any]], path: Path) -> Path:
    """Fig. 5 left: fraction of tasks using each feature, sorted, one curve per λ1."""
    fig, ax = plt.subplots(figsize=(6.6, 3.8))
    svm = [r for r in _svm_rows(rows) if r["lam1"] > 0]
    colors = plt.cm.viridis(np.linspace(0, 0.9, max(len(svm), 1)))
    ax.axhline(1.0, color="grey", ls=":", lw=1, label="dense heads (λ1 = 0, ridge)")
    for row, color in zip(svm, colors, strict=False):
        usage = np.sort(np.asarray(row["usage"]))[::-1]
        ax.plot(np.arange(usage.size), usage, color=color, label=f"λ1/λ1_max = {row['lam1']:g}")
    ax.set_xlabel("features (sorted by usage)")
    ax.set_ylabel("fraction of tasks using the feature")
    ax.set_ylim(-0.02, 1.05)
    ax.set_title("Feature usage across test tasks", fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5))
    return save_figure(fig, path)


def figure5(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Both panels of Fig. 5 into ``out_dir`` from a results document (its evaluated rows)."""
    rows = [r for r in results["rows"] if "accuracy" in r]
    way = results.get("config", {}).get("way")
    out_dir = Path(out_dir)
    return [
        accuracy_vs_sparsity(rows, out_dir / "fig5_right_accuracy_vs_sparsity.png", way),
        feature_usage(rows, out_dir / "fig5_left_feature_usage.png"),
    ]


__all__ = ["accuracy_vs_sparsity", "feature_usage", "figure5"]
