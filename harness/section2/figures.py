"""Figure 1 of the paper and the text table of the Section 2 study, from a results document.

Both read only the ``rows`` (and the ``config``'s seed count) of ``results.json``, so they redraw
a finished run without refitting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import numpy as np

from harness.plotting import save_figure
from harness.section2 import published
from harness.section2.config import METHODS


def summary_table(rows: list[dict[str, Any]]) -> str:
    """Text tables of R² mean ± s.e.: one block per ℓ/m, methods as rows, n as columns."""
    blocks = []
    for sparsity in sorted({r["sparsity"] for r in rows}):
        sizes = sorted({r["n_samples"] for r in rows if r["sparsity"] == sparsity})
        lines = [f"l/m = {sparsity:.0%}".ljust(20) + "".join(f"{f'n={n}':>16}" for n in sizes)]
        for method in METHODS:
            cells = {
                r["n_samples"]: r
                for r in rows
                if r["method"] == method and r["sparsity"] == sparsity
            }
            line = method.ljust(20)
            for n in sizes:
                cell = cells.get(n)
                line += f"{cell['r2_mean']:>9.3f} ±{cell['r2_sem']:.3f}" if cell else " " * 16
            lines.append(line)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def figure1(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Figure 1 into ``out_dir/figure1.png``: test R² against n, one panel per ℓ/m, error bars
    = standard errors, and in the 5 % panel the authors' published means (thin dotted lines,
    crosses); ``results`` is a results document (its ``rows`` and ``config``)."""
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
        if np.isclose(sparsity, published.SPARSITY):
            for method, means in published.MEANS.items():
                if method == "Entangled-Ridge":
                    continue  # equal to Disentangled-Ridge: drawn once
                color = style[method][0] if "Lasso" in method else "k"
                label = "Ridge (published)" if "Ridge" in method else f"{method} (published)"
                ax.plot(
                    published.TRAIN_SIZES, means, color=color, ls=":", marker="x", lw=1.2,
                    ms=6, alpha=0.9, label=label,
                )  # fmt: skip
        ax.set_title(f"ℓ/m = {sparsity:.0%}")
        ax.set_xlabel("# samples")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test $R^2$")
    axes[0].set_ylim(min(-0.25, lowest - 0.05), 1.02)
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 0.98), ncol=4, fontsize=8)
    config = results.get("config", {})
    if config.get("seeds"):
        protocol = f"protocol: {config['protocol']}; " if config.get("protocol") else ""
        fig.text(
            0.99, 0.01, f"{protocol}seeds: {config['seeds']}; error bars: ± s.e.",
            ha="right", va="bottom", fontsize=8,
        )  # fmt: skip
    fig.tight_layout()
    return [save_figure(fig, out_dir / "figure1.png")]


__all__ = ["figure1", "summary_table"]
