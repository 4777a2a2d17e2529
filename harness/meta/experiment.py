"""The meta-SVM sweep: one meta-learner per λ1, trained then scored (paper Section 5.2, Fig. 5).

For each ``lam1`` of the `MetaConfig` (0 = MetaOptNet's dense SVM) a meta-learner is trained
(in ``OUT/<head>-lam1_<value>/``, checkpointed, resumed if a checkpoint is there), then
evaluated on a fixed set of meta-test episodes: accuracy ± 95% CI, average fraction of zero
feature columns, and per-feature usage. Under DDP every rank trains; rank 0 evaluates.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from harness.data.factors import shapes3d_grid
from harness.data.fewshot import ClassImages, EpisodeSampler, pickle_split
from harness.data.fewshot_procedural import ProceduralFewShot
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig
from harness.distributed import DistContext
from harness.meta.config import MetaConfig
from harness.meta.evaluate import evaluate
from harness.meta.train import build_model, train

SPLITS = ("train", "val", "test")


def splits(config: MetaConfig, data_dir: Path | None) -> dict[str, ClassImages]:
    """The train / val / test classes of ``config.dataset`` (pickles read from ``data_dir``)."""
    if config.dataset == "procedural":
        renderer = ProceduralShapes(
            shapes3d_grid(), SceneConfig(image_size=config.image_size, supersample=1)
        )
        return {s: ProceduralFewShot(s, renderer=renderer) for s in SPLITS}
    if data_dir is None:
        raise ValueError(f"data-dir: required with --dataset {config.dataset}")
    return {s: pickle_split(data_dir, config.dataset, s) for s in SPLITS}


def run_sweep(
    config: MetaConfig,
    out: Path,
    ctx: DistContext,
    data_dir: Path | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train and evaluate one meta-learner per ``config.lam1``; one row each.

    Rank 0's rows hold the test scores (`harness.meta.evaluate.EvalResult`); every rank's hold
    the head, the timings and the training history.
    """
    data = splits(config, data_dir)
    return [run_one(config, lam1, data, ctx, out, progress) for lam1 in config.lam1]


def run_one(
    config: MetaConfig,
    lam1: float,
    data: dict[str, ClassImages],
    ctx: DistContext,
    out: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Train the meta-learner with group-lasso weight ``lam1`` in ``out/<head>-lam1_<lam1>/``
    (resuming from its checkpoint), then evaluate it on rank 0; returns its results row."""
    model = build_model(config, config.head_config(lam1), config.seed)
    seed = config.seed
    train_sampler = EpisodeSampler(data["train"], config.way, config.train_shot, config.query, seed)
    val_sampler = EpisodeSampler(data["val"], config.way, config.test_shot, config.query, seed + 1)
    test_sampler = EpisodeSampler(
        data["test"], config.way, config.test_shot, config.eval_query, seed + 2
    )
    run_dir = Path(out) / f"{config.head}-lam1_{lam1:g}"
    started = time.perf_counter()
    history = train(
        model, config, train_sampler, val_sampler, run_dir / "checkpoint.pt", ctx, progress
    )
    row: dict[str, Any] = {"head": config.head, "lam1": lam1, "lam2": config.lam2}
    if ctx.is_main:
        t0 = time.perf_counter()
        res = evaluate(model, test_sampler, config.eval_episodes, config.episodes_per_batch)
        print(
            f"{config.head} lam1={lam1:g}: test accuracy {100 * res.accuracy:.2f} "
            f"+- {100 * res.ci95:.2f} %, sparsity {res.sparsity:.3f}, "
            f"train {history.seconds:.0f} s"
        )
        row.update(res.__dict__)
        row["eval_seconds"] = time.perf_counter() - t0
    row.update(
        train_seconds=history.seconds,
        wall_seconds=time.perf_counter() - started,
        history=history.__dict__,
    )
    return row


__all__ = ["run_one", "run_sweep", "splits"]
