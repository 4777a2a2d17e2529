"""The meta-SVM sweep: one meta-learner per head, trained then scored (Section 5.2, Fig. 5).

The heads are `MetaConfig.heads`: the SVM at every ``λ1 / λ1_max`` of ``lam1`` (0 =
the dense Crammer–Singer SVM) and the ridge head. Each is trained from the same initialization on
the same episodes, then evaluated on a fixed set of meta-test episodes: accuracy ± 95% CI,
average fraction of zero feature columns, per-feature usage. A sweep directory holds

    runs/<head>/checkpoint.pt   the training state (resumable)
    rows/<head>.json            one finished head (scores, usage, training history)

Re-running the same command skips finished heads and resumes interrupted ones; a row records the
settings it was trained with, and a row of other settings is trained again (the grid of ``lam1``
and the ridge reference are not settings of a head). On the CPU the
heads run in ``workers`` processes with one torch thread each; on a GPU or under DDP (every
rank trains; rank 0 evaluates) one by one.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.config import config_to_dict
from harness.data.factors import shapes3d_grid
from harness.data.fewshot import SPLIT_FILES, ClassImages, EpisodeSampler, pickle_split
from harness.data.fewshot_procedural import ProceduralFewShot
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig
from harness.distributed import DistContext
from harness.eta import CALIBRATION_STEPS, Estimate, from_finished
from harness.meta.config import MetaConfig
from harness.meta.evaluate import evaluate
from harness.meta.train import build_model, calibrate, train
from harness.workers import worker_pool, write_json

SPLITS = ("train", "val", "test")


def check_data(config: MetaConfig, data_dir: Path | None) -> None:
    """Refuse, before any training, a real dataset without ``data_dir`` or its files."""
    if config.dataset == "procedural":
        return
    if data_dir is None:
        raise ValueError(f"data-dir: required with --dataset {config.dataset}")
    for name in SPLIT_FILES[config.dataset].values():
        if not (Path(data_dir) / name).is_file():
            raise ValueError(f"data-dir: {Path(data_dir) / name} not found")


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


def head_id(kind: str, lam1: float, seed: int = 0) -> str:
    """The name of a head's run and row: ``svm-lam1_0.05``, ``ridge``; ``-seed<k>`` appended
    for a seed other than 0."""
    name = f"svm-lam1_{lam1:g}" if kind == "svm" else kind
    return name if seed == 0 else f"{name}-seed{seed}"


def head_settings(config: MetaConfig) -> dict[str, Any]:
    """What a head's row records of ``config``: everything but the sweep's grid."""
    record = config_to_dict(config)
    return {k: v for k, v in record.items() if k not in ("lam1", "ridge_reference")}


def _finished(config: MetaConfig, out: Path, head: tuple[str, float]) -> dict[str, Any] | None:
    path = Path(out) / "rows" / f"{head_id(*head, config.seed)}.json"
    if not path.is_file():
        return None
    row = json.loads(path.read_text())
    return row if row.get("settings") == head_settings(config) else None


def read_rows(config: MetaConfig, out: Path) -> list[dict[str, Any]]:
    """The finished rows of the sweep's heads (trained with ``config``'s settings), in the
    order of `MetaConfig.heads`."""
    rows = [_finished(config, out, h) for h in config.heads()]
    return [r for r in rows if r is not None]


def estimate(
    configs: Sequence[MetaConfig],
    out: Path,
    ctx: DistContext,
    data_dir: Path | None = None,
    workers: int = 1,
) -> Estimate:
    """The time left of the sweeps ``configs`` (e.g. one per seed) into ``out`` (`harness.eta`):
    seconds per step from the finished heads' training and evaluation time, or else timed on
    a few steps of the first head to do."""
    parallel = 1 if ctx.world_size > 1 or ctx.device.type != "cpu" else workers
    heads = [(c, h) for c in configs for h in c.heads()]
    rows = [_finished(c, out, h) for c, h in heads]
    todo = [(c, h) for (c, h), row in zip(heads, rows, strict=True) if row is None]
    finished = [r for r in rows if r is not None]
    measured = from_finished(
        (r["train_seconds"] + r.get("eval_seconds", 0.0) for r in finished),
        (len(r["history"]["loss"]) for r in finished),
    )
    source = f"measured on {len(finished)} finished heads (evaluation included)"
    if todo and measured is None:
        config, (kind, lam1) = todo[0]
        check_data(config, data_dir)
        model = build_model(config, config.head_config(kind, lam1), config.seed)
        sampler = EpisodeSampler(
            splits(config, data_dir)["train"],
            config.way, config.train_shot, config.query, config.seed,
        )  # fmt: skip
        # Heads trained by worker processes run on one thread each (`harness.workers`).
        measured = calibrate(model, config, sampler, ctx, threads=1 if parallel > 1 else None)
        source = f"measured ({CALIBRATION_STEPS} calibration steps; training only)"
    steps = max((c.steps for c, _ in todo), default=0)
    return Estimate(len(todo), len(finished), steps, measured or 0.0, source, parallel, "heads")


def run_sweep(
    config: MetaConfig,
    out: Path,
    ctx: DistContext,
    data_dir: Path | None = None,
    progress: bool = True,
    workers: int = 1,
    log=print,
) -> list[dict[str, Any]]:
    """Train and evaluate every head of ``config`` not finished yet; return all finished rows.

    ``workers > 1`` runs heads in that many processes (CPU, one process: ``ctx`` not DDP).
    Rank 0's rows hold the test scores (`harness.meta.evaluate.EvalResult`).
    """
    out = Path(out)
    check_data(config, data_dir)
    todo = [h for h in config.heads() if _finished(config, out, h) is None]
    if todo and ctx.is_main:
        at_once = min(workers, len(todo))
        log(f"{len(todo)} of {len(config.heads())} heads to train, {at_once} at a time")
    durations: list[float] = []

    def done(name: str, seconds: float, row: dict[str, Any]) -> None:
        durations.append(seconds)
        left = sum(durations) / len(durations) * (len(todo) - len(durations)) / parallel
        log(
            f"[{len(durations)}/{len(todo)}] {name}: test accuracy {100 * row['accuracy']:.2f} "
            f"± {100 * row['ci95']:.2f} %, sparsity {row['sparsity']:.3f} ({seconds:.0f} s; "
            f"about {left / 60:.0f} min left)"
        )

    failures: list[str] = []

    def failed(name: str, err: Exception) -> None:
        # One head that fails (e.g. a diverged training) must not lose the others: it is
        # logged and recorded in rows/<head>.error, and trained again by the next run.
        failures.append(f"{name}: {type(err).__name__}: {err}")
        durations.append(0.0)
        log(f"[{len(durations)}/{len(todo)}] {name}: FAILED: {type(err).__name__}: {err}")
        (out / "rows").mkdir(parents=True, exist_ok=True)
        (out / "rows" / f"{name}.error").write_text(f"{type(err).__name__}: {err}\n")

    parallel = max(1, min(workers, len(todo)))
    if parallel == 1 or ctx.world_size > 1 or ctx.device.type != "cpu":
        data = splits(config, data_dir) if todo else {}
        for kind, lam1 in todo:
            begin = time.perf_counter()
            name = head_id(kind, lam1, config.seed)
            try:
                row = run_one(config, kind, lam1, data, ctx, out, progress)
            except (ValueError, RuntimeError) as err:
                failed(name, err)
                continue
            if ctx.is_main:
                done(name, time.perf_counter() - begin, row)
    else:
        jobs = {
            head_id(kind, lam1, config.seed): _Job(config, kind, lam1, str(out), data_dir)
            for kind, lam1 in todo
        }
        with worker_pool(parallel) as pool:
            pending = {pool.submit(_work, job): name for name, job in jobs.items()}
            while pending:
                finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in finished:
                    name = pending.pop(future)
                    try:
                        done(*future.result())
                    except (ValueError, RuntimeError) as err:
                        failed(name, err)
    if todo and len(failures) == len(todo):
        raise RuntimeError(f"every head failed; the first: {failures[0]}")
    if failures:
        log(f"{len(failures)} head(s) failed (rows/*.error); the same command trains them again")
    return read_rows(config, out) if ctx.is_main else []


def run_one(
    config: MetaConfig,
    kind: str,
    lam1: float,
    data: dict[str, ClassImages],
    ctx: DistContext,
    out: Path,
    progress: bool = True,
) -> dict[str, Any]:
    """Train head ``kind`` at ``lam1`` (resuming from ``out/runs/<head>/checkpoint.pt``), then
    evaluate it on rank 0 and write ``out/rows/<head>.json``; returns its row."""
    model = build_model(config, config.head_config(kind, lam1), config.seed)
    seed = config.seed
    train_sampler = EpisodeSampler(data["train"], config.way, config.train_shot, config.query, seed)
    val_sampler = EpisodeSampler(data["val"], config.way, config.test_shot, config.query, seed + 1)
    test_sampler = EpisodeSampler(
        data["test"], config.way, config.test_shot, config.eval_query, seed + 2
    )
    name = head_id(kind, lam1, config.seed)
    (out / "rows" / f"{name}.error").unlink(missing_ok=True)
    started = time.perf_counter()
    history = train(
        model, config, train_sampler, val_sampler, out / "runs" / name / "checkpoint.pt", ctx,
        progress, log=lambda line: None if not progress else print(f"{name}: {line}"),
    )  # fmt: skip
    row: dict[str, Any] = {"head": kind, "lam1": lam1, "lam2": config.lam2, "seed": seed}
    row["settings"] = head_settings(config)
    if ctx.is_main:
        t0 = time.perf_counter()
        res = evaluate(model, test_sampler, config.eval_episodes, config.episodes_per_batch)
        row.update(res.__dict__)
        row["eval_seconds"] = time.perf_counter() - t0
    row.update(
        train_seconds=history.seconds,
        wall_seconds=time.perf_counter() - started,
        history=history.__dict__,
    )
    if ctx.is_main:
        write_json(out / "rows" / f"{name}.json", row)
    return row


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to run one head (picklable)."""

    config: MetaConfig
    kind: str
    lam1: float
    out: str
    data_dir: Path | None


def _work(job: _Job) -> tuple[str, float, dict[str, Any]]:
    begin = time.perf_counter()
    data = splits(job.config, job.data_dir)
    row = run_one(job.config, job.kind, job.lam1, data, DistContext(), Path(job.out), False)
    return head_id(job.kind, job.lam1, job.config.seed), time.perf_counter() - begin, row


__all__ = ["check_data", "estimate", "head_id", "read_rows", "run_one", "run_sweep", "splits"]
