"""Log–log plots of time against T, n and m (the scaling sweeps), with the matmul floor."""

from __future__ import annotations

from pathlib import Path

from benchmarks.results_io import Row

# (method, kind, label, style); baselines solving a subset of tasks are drawn per task × T.
CURVES = [
    ("sl-implicit", "forward_backward", "ours, fwd + implicit bwd", "o-"),
    ("sl-implicit", "forward", "ours, forward", "o--"),
    ("sl-unroll", "forward_backward", "ours, fwd + unrolled bwd", "s-"),
    ("sklearn", "forward", "scikit-learn loop, forward", "^-"),
    ("cvxpylayers", "forward_backward", "cvxpylayers (default), fwd+bwd", "v-"),
    ("floor", "forward", "floor: one batched matmul F^T Y", "k:"),
]
AXES = {"T": "tasks T", "n": "samples n", "m": "features m"}


def scaling_plot(rows: list[Row], axis: str, title: str, path: Path) -> Path | None:
    """Plot every curve of :data:`CURVES` over the ``rows`` of one sweep; None if empty."""
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8.0, 4.4))
    drawn = 0
    for method, kind, label, style in CURVES:
        points = []
        for row in rows:
            if row.method != method or row.status != "ok":
                continue
            per_task = row.per_task(kind)
            if per_task is not None:
                points.append((getattr(row, axis), per_task * row.T))
        if len(points) < 2:
            continue
        points.sort()
        if any(r.tasks < r.T for r in rows if r.method == method):
            label += " (per task × T)"
        ax.plot(*zip(*points, strict=True), style, label=label, markersize=4)
        drawn += 1
    if not drawn:
        plt.close(fig)
        return None
    ax.set_xscale("log")
    ax.set_yscale("log")
    # The measured sizes as the only x ticks: log axes otherwise label minor ticks too, and
    # those overlapped on the sweep over n.
    sizes = sorted({getattr(row, axis) for row in rows})
    ax.set_xticks(sizes)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    ax.set_xlabel(AXES[axis])
    ax.set_ylabel("time for the whole batch (s), min of rounds")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    # Outside the axes, on the right: inside, it hid curves of some sweeps.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
