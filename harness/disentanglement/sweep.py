"""Sweeps: lists of runs, each resumable (paper Fig. 4, 6, 8, 9, 10, 15).

A sweep's directory holds ``runs/<run_id>/`` per run (its ``checkpoint.pt`` and, once finished,
its ``row.json``) and ``results.json`` with the rows of every finished run. Re-running the same
command skips finished runs and resumes an interrupted one from its last checkpoint.
"""

from __future__ import annotations

import itertools
import json
import os
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from harness.data import ImageSource
from harness.disentanglement.config import RunConfig
from harness.disentanglement.train import run_one
from harness.distributed import DistContext

LAMS = (0.0, 0.01, 0.03, 0.1, 0.3, 1.0)
RHOS = (0.0, 0.5, 0.8, 0.9, 0.95, 0.99)
ALPHAS = (0.0, 0.25, 0.5, 0.75, 1.0)
INNER = ("inner-lasso", "inner-ridge", "inner-ridge-ica")

# Grid axes of each named sweep; flags given on the command line override them.
SWEEPS: dict[str, dict[str, tuple[Any, ...]]] = {
    "single": {},
    "lambda": {"methods": INNER, "lams": LAMS},
    "correlation": {"methods": INNER, "lams": LAMS, "rhos": RHOS, "alphas": (1.0,)},
    "noise": {"methods": INNER, "lams": LAMS, "rhos": (0.9,), "alphas": ALPHAS},
    "supports": {
        "methods": INNER,
        "lams": LAMS,
        "rhos": (0.9,),
        "weights": ("block2", "block3", "block6"),
    },
    "laplace": {"methods": INNER, "lams": LAMS, "rhos": RHOS, "weights": ("laplace",)},
    "outer": {"methods": ("outer-lasso",), "lams": (0.0, 0.001, 0.01, 0.1, 1.0), "rhos": (0.9,)},
}


def expand(
    base: RunConfig,
    methods: Sequence[str],
    lams: Sequence[float],
    rhos: Sequence[float],
    alphas: Sequence[float],
    weights: Sequence[str],
    seeds: Sequence[int],
) -> list[RunConfig]:
    """Every combination of the axes, as `RunConfig`s derived from ``base`` (validated)."""
    return [
        replace(base, method=m, lam=lam, rho=rho, alpha=alpha, weights=w, seed=seed)
        for m, lam, rho, alpha, w, seed in itertools.product(
            methods, lams, rhos, alphas, weights, seeds
        )
    ]


def _write_json(path: Path, document: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(tmp, path)


def run_sweep(
    configs: Sequence[RunConfig],
    out_dir: Path,
    source: ImageSource,
    ctx: DistContext | None = None,
    progress: bool = True,
    on_row: Any = None,
) -> list[dict[str, Any]]:
    """Run every configuration not yet finished in ``out_dir/runs``; return all rows in order.

    ``on_row(rows)`` is called (on rank 0) after each finished run, e.g. to rewrite the sweep's
    results file, so that an interrupted sweep leaves a plottable file.
    """
    ctx = ctx or DistContext()
    ids = [c.run_id for c in configs]
    if len(set(ids)) != len(ids):
        raise ValueError("sweep: two runs share a run id (repeated values in an axis?)")
    rows: list[dict[str, Any]] = []
    for config in configs:
        run_dir = Path(out_dir) / "runs" / config.run_id
        row_path = run_dir / "row.json"
        if row_path.is_file():
            rows.append(json.loads(row_path.read_text()))
            continue
        run_dir.mkdir(parents=True, exist_ok=True)
        row = run_one(config, source, run_dir, ctx, progress)
        if ctx.is_main:
            row["config"] = config.to_dict()
            _write_json(row_path, row)
            rows.append(row)
            if on_row is not None:
                on_row(rows)
    return rows
