"""The studies `reproduce` runs besides Section 5.1's sweeps: Fig. 1 and Fig. 5.

``fig1`` (Section 2) is `harness.section2` under the ``published`` protocol, written to
``<out>/fig1/results.json`` and ``figure1.png``; it runs again only when its settings changed.
``fig5`` (Section 5.2) is the meta-svm sweep of `harness.meta.experiment` in ``<out>/fig5/``
(``rows/`` committed, ``runs/`` not), which resumes head by head. Each gives a section of
``REPRODUCTION.md``: what the paper says, what we measured, the verdicts, the figures.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from harness.config import config_to_dict
from harness.distributed import DistContext, init_distributed, shutdown
from harness.meta.config import MetaConfig
from harness.meta.config import preset as meta_preset
from harness.meta.experiment import read_rows as read_meta_rows
from harness.meta.experiment import run_sweep as run_meta_sweep
from harness.meta.figures import figure5
from harness.meta.findings import findings
from harness.results import RESULTS_FILENAME, findings_table, write_results
from harness.section2 import published
from harness.section2.config import StudyConfig, protocol
from harness.section2.figures import figure1, summary_table
from harness.section2.study import run_study

STUDIES = {
    "fig1": "Fig. 1 (Section 2): Lasso and Ridge on disentangled and entangled features",
    "fig5": "Fig. 5 (Section 5.2): meta-learning with group-lasso SVM heads, over λ1 / λ1_max",
}
# The settings each scale changes (the quick and paper scales run the studies as published).
SMOKE_STUDY = {
    "seeds": 2, "train_sizes": (25, 50), "sparsities": (0.05, 0.8), "n_test": 200,
    "lasso_lambdas": 5, "cv_tol": 1e-4, "tol": 1e-4, "max_iter": 5000,
}  # fmt: skip
# Seeds of the Fig. 5 sweep (initialization and episodes): one quick head's test accuracy moves
# by about a point from run to run, the size of the paper's "as accurate" margin.
META_SEEDS = {"smoke": 1, "quick": 3, "paper": 1}
SMOKE_META = {
    "lam1": (0.0, 0.3), "steps": 2, "image_size": 16, "eval_episodes": 4, "val_episodes": 2,
    "val_every": 1, "checkpoint_every": 1,
}  # fmt: skip


def study_config(scale: str) -> StudyConfig:
    """The Fig. 1 study of ``scale`` (the published protocol)."""
    return protocol("published", **(SMOKE_STUDY if scale == "smoke" else {}))


def meta_config(scale: str, seed: int = 0) -> MetaConfig:
    """The Fig. 5 sweep of ``scale`` for ``seed``: the meta-svm preset of the same name
    (smoke: tiny)."""
    if scale == "smoke":
        return meta_preset("quick", seed=seed, **SMOKE_META)
    return meta_preset(scale, seed=seed)


def meta_configs(scale: str) -> list[MetaConfig]:
    """The Fig. 5 sweeps of ``scale``, one per seed."""
    return [meta_config(scale, seed) for seed in range(META_SEEDS[scale])]


def _fig1_record(scale: str) -> dict[str, Any]:
    return {"protocol": "published", **config_to_dict(study_config(scale))}


def fig1_done(out: Path, scale: str) -> bool:
    """Whether ``out/fig1`` holds the Fig. 1 results of ``scale``'s settings."""
    path = Path(out) / "fig1" / RESULTS_FILENAME
    return path.is_file() and json.loads(path.read_text()).get("config") == _fig1_record(scale)


def run_fig1(out: Path, scale: str, workers: int, progress: bool = True) -> None:
    """Run the Fig. 1 study into ``out/fig1`` unless its results have these settings."""
    if fig1_done(out, scale):
        return
    config, record = study_config(scale), _fig1_record(scale)
    path = Path(out) / "fig1" / RESULTS_FILENAME
    print(f"fig1: the Section 2 study ({config.seeds} seeds, {workers} worker(s))")
    results = run_study(config, progress=progress, workers=workers, threads=1)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_results(path.parent, "sparse-generalization", record, workers=workers, **results)
    print(f"fig1: {results['runtime_s']:.0f} s\n{summary_table(results['rows'])}")


def run_fig5(out: Path, scale: str, workers: int, device: str, progress: bool = True) -> None:
    """Train the heads of the Fig. 5 sweep not finished yet, into ``out/fig5``."""
    ctx = init_distributed(device) if device != "cpu" else DistContext()
    try:
        for config in meta_configs(scale):
            run_meta_sweep(config, Path(out) / "fig5", ctx, None, progress, workers)
    finally:
        if device != "cpu":
            shutdown(ctx)


def fig1_section(out: Path) -> tuple[str, list[Path]]:
    """The Fig. 1 section of ``REPRODUCTION.md`` (and its figure), from ``out/fig1``."""
    path = Path(out) / "fig1" / RESULTS_FILENAME
    if not path.is_file():
        return "_Not run yet._\n", []
    results = json.loads(path.read_text())
    rows = results["rows"]
    text = (
        f"Protocol `{results['config'].get('protocol', '?')}` (`harness/section2/config.py`: "
        "independent latents, unit-norm task weights, noise variance 0.04), "
        f"{results['config']['seeds']} seeds, {results['runtime_s']:.0f} s. Why this protocol "
        "and which alternatives were ruled out: the docstring of `harness/section2/study.py`. "
        "The authors' numbers are their released plotting data (`harness/section2/published.py`"
        "), for ℓ/m = 5 % only; the 20 % and 80 % panels are judged on the paper's statements.\n\n"
        + published.comparison_table(rows)
        + "\n\n"
        + findings_table(published.statements(rows))
        + "\n"
    )
    return text, figure1(results, path.parent)


def fig5_section(out: Path, scale: str) -> tuple[str, list[Path]]:
    """The Fig. 5 section of ``REPRODUCTION.md`` (and its figures), from ``out/fig5``."""
    configs = meta_configs(scale)
    config = configs[0]
    fig_dir = Path(out) / "fig5"
    per_seed = [read_meta_rows(c, fig_dir) for c in configs]
    rows = [r for seed_rows in per_seed for r in seed_rows]
    planned = len(config.heads()) * len(configs)
    if not rows:
        return "_Not run yet._\n", []
    record = config_to_dict(config) | {"seeds": len(configs)}
    heads = mean_over_seeds(rows)
    slim = [{k: v for k, v in r.items() if k != "history"} for r in rows]
    write_results(fig_dir, "meta-svm", record, rows=heads, per_seed=slim)
    seconds = sum(r["train_seconds"] + r.get("eval_seconds", 0.0) for r in rows)
    text = (
        f"meta-svm preset `{'quick' if scale == 'smoke' else scale}` "
        f"({config.backbone}, {config.image_size}×{config.image_size} procedural images, "
        f"{config.way}-way {config.train_shot}-shot training / {config.test_shot}-shot test, "
        f"{config.steps} steps, {config.eval_episodes} test episodes per seed), "
        f"{len(configs)} seed(s): each seed draws its own initialization and episodes, and the "
        "table and figures show the mean over seeds (95 % interval pooled over the seeds' test "
        f"episodes); {len(rows)} of {planned} training runs finished, {seconds / 60:.0f} min of "
        "training and evaluation summed over them. "
        "λ1 is relative to each task's exact λ1_max "
        "(`sparselayers.functional.svm_lambda1_max`). The inner solver stops at a relative "
        f"duality gap of {config.tol:g} or after {config.max_iter} iterations; the column "
        "'short of tol' counts the test tasks that hit the iteration budget first.\n\n"
        + _heads_table(heads)
        + "\n\n"
        + findings_table(
            findings(heads, config.way)
            if len(rows) == planned
            else findings(rows, config.way, planned)
        )
        + "\n\nA head at λ1 / λ1_max > 1 is zero on every task by the definition of λ1_max, so "
        "its logits are zero, no gradient reaches the backbone, and its accuracy is chance. At "
        "exactly 1 the solution is degenerate: the inner solver, stopped at its duality-gap "
        "tolerance, leaves columns of the gap's size, so the sparsity there is below 100 % and "
        "the learned logit scale can still read a little from those columns.\n"
    )
    errors = sorted((fig_dir / "rows").glob("*.error"))
    if errors:
        text += "\nTraining runs that failed (trained again by the next run):\n\n" + "".join(
            f"- `{e.stem}`: {e.read_text().strip()}\n" for e in errors
        )
    return text, figure5({"rows": heads, "config": record}, fig_dir)


def mean_over_seeds(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per head: accuracy, sparsity and the sorted usage curve averaged over its seeds;
    the 95 % interval of the mean over all their (independent) test episodes."""
    groups: dict[tuple[str, float], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["head"], r["lam1"]), []).append(r)
    out = []
    for (head, lam1), group in groups.items():
        k = len(group)
        out.append(
            {
                "head": head,
                "lam1": lam1,
                "seeds": k,
                "accuracy": sum(r["accuracy"] for r in group) / k,
                "accuracy_per_seed": [r["accuracy"] for r in group],
                "ci95": math.sqrt(sum(r["ci95"] ** 2 for r in group)) / k,
                "sparsity": sum(r["sparsity"] for r in group) / k,
                # Feature j of one seed's backbone is not feature j of another's: the usage
                # curves are sorted per seed, then averaged rank by rank.
                "usage": [
                    sum(u) / k
                    for u in zip(*(sorted(r["usage"], reverse=True) for r in group), strict=True)
                ],
                "episodes": sum(r["episodes"] for r in group),
                "not_converged": sum(r["not_converged"] for r in group),
                "train_seconds": sum(r["train_seconds"] for r in group) / k,
            }
        )
    return out


def _heads_table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| head | λ1 / λ1_max | accuracy (%) | per seed | sparsity (%) | "
        "test tasks short of tol | train (s) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lam1 = f"{r['lam1']:g}" if r["head"] == "svm" else "–"
        lines.append(
            f"| {r['head']} | {lam1} | {100 * r['accuracy']:.1f} ± {100 * r['ci95']:.1f} | "
            + " / ".join(f"{100 * a:.1f}" for a in r["accuracy_per_seed"])
            + f" | {100 * r['sparsity']:.1f} | {r['not_converged']} of {r['episodes']} | "
            f"{r['train_seconds']:.0f} |"
        )
    return "\n".join(lines)


__all__ = [
    "STUDIES",
    "fig1_done",
    "fig1_section",
    "fig5_section",
    "mean_over_seeds",
    "meta_config",
    "meta_configs",
    "run_fig1",
    "run_fig5",
    "study_config",
]
