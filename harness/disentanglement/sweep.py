"""Sweeps: lists of rows, planned into training runs, run resumably by workers or job arrays.

A sweep is a list of rows (`RunConfig`s: Fig. 4, 6, 8, 9, 10, 15). `plan` groups the rows into
*units*, one per distinct training run (`RunConfig.trained_as`): inner-Ridge+ICA is evaluated
on the trained inner-Ridge encoder, and inner-Lasso / outer-Lasso at λ = 0 are the
unregularized inner-Ridge run, so nothing is trained twice. A sweep directory holds

    runs/<unit id>/checkpoint.pt   the training state (resumable), then the best encoder
    runs/<unit id>/lock            while a process trains the unit (its host and pid)
    rows/<row id>.json             one finished row (scores, history, traversals)

A unit is done when all its rows exist; re-running the same command skips done units and
resumes interrupted ones from their last checkpoint. Units run in ``workers`` processes (one
torch thread each) or one by one in this process; ``--run-index K`` runs unit K alone, so a job
array (SLURM, submitit) or several machines sharing the directory can split a sweep, and the
lock keeps two processes off one unit. The rows are small and can be committed; the
checkpoints are not needed to plot, only to evaluate a new row on an old unit.
"""

from __future__ import annotations

import itertools
import json
import os
import socket
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, wait
from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from harness.checkpoint import load_checkpoint
from harness.data import ImageSource
from harness.disentanglement.config import RunConfig
from harness.disentanglement.data import image_source
from harness.disentanglement.evaluate import evaluate_row
from harness.disentanglement.train import calibrate, train
from harness.distributed import DistContext
from harness.eta import CALIBRATION_STEPS, Estimate, from_finished
from harness.workers import worker_pool, write_json

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
    "outer": {
        "methods": ("outer-lasso", "outer-ridge", "outer-ridge-ica"),
        "lams": (0.0, 0.001, 0.01, 0.1, 1.0),
        "rhos": (0.9,),
    },
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


@dataclass(frozen=True)
class Unit:
    """One training run of a sweep and the rows evaluated on its encoder."""

    config: RunConfig
    rows: tuple[RunConfig, ...]

    @property
    def run_id(self) -> str:
        """The directory name of the training run."""
        return self.config.run_id


def plan(configs: Sequence[RunConfig]) -> list[Unit]:
    """The distinct training runs of ``configs``, in order of first appearance.

    Raises:
        ValueError: two rows share a run id (a value repeated in an axis).
    """
    ids = [c.run_id for c in configs]
    if len(set(ids)) != len(ids):
        raise ValueError("sweep: two runs share a run id (repeated values in an axis?)")
    groups: dict[str, tuple[RunConfig, list[RunConfig]]] = {}
    for config in configs:
        trained = config.trained_as()
        groups.setdefault(trained.run_id, (trained, []))[1].append(config)
    return [Unit(trained, tuple(rows)) for trained, rows in groups.values()]


def row_path(out_dir: Path, config: RunConfig) -> Path:
    """Where the row of ``config`` is written."""
    return Path(out_dir) / "rows" / f"{config.run_id}.json"


def read_rows(out_dir: Path, configs: Sequence[RunConfig]) -> list[dict[str, Any]]:
    """The finished rows among ``configs``, in their order."""
    paths = (row_path(out_dir, c) for c in configs)
    return [json.loads(p.read_text()) for p in paths if p.is_file()]


def unit_status(out_dir: Path, unit: Unit) -> str:
    """'done', 'running (host pid)', 'resumable at step S' or 'pending'."""
    if all(row_path(out_dir, c).is_file() for c in unit.rows):
        return "done"
    run_dir = Path(out_dir) / "runs" / unit.run_id
    lock = run_dir / "lock"
    if lock.is_file() and not _stale(lock):
        return f"running ({lock.read_text().strip()})"
    checkpoint = run_dir / "checkpoint.pt"
    if checkpoint.is_file():
        try:
            step = load_checkpoint(checkpoint)["step"]
        except (ValueError, KeyError):
            return "pending (unreadable checkpoint)"
        return f"resumable at step {step}"
    return "pending"


def estimate(
    units: Sequence[Unit],
    out_dir: Path,
    data_dir: str | None,
    workers: int = 1,
    ctx: DistContext | None = None,
) -> Estimate:
    """The time left of the sweep ``units`` in ``out_dir`` (`harness.eta`): seconds per step
    from the training time of its finished runs, or else timed on a few steps of the first run
    to do (on ``ctx``'s device, this rank's tasks). ``workers``: runs trained at once."""
    ctx = ctx or DistContext()
    todo = [u for u in units if unit_status(out_dir, u) != "done"]
    finished = [read_rows(out_dir, u.rows[:1]) for u in units if u not in todo]
    rows = [r[0] for r in finished if r]
    measured = from_finished((r["train_seconds"] for r in rows), (r["steps_done"] for r in rows))
    source = f"measured on {len(rows)} finished runs (training only)"
    if todo and measured is None:
        config = todo[0].config
        source_images = image_source(data_dir, config.image_size, str(ctx.device))
        # Runs trained by worker processes run on one thread each (`harness.workers`).
        measured = calibrate(config, source_images, ctx, threads=1 if workers > 1 else None)
        source = f"measured ({CALIBRATION_STEPS} calibration steps; training only)"
    steps = max((u.config.steps for u in todo), default=0)
    return Estimate(len(todo), len(units) - len(todo), steps, measured or 0.0, source, workers)


class UnitBusy(RuntimeError):
    """Another live process holds the unit's lock."""


STALE_AFTER = 3600.0  # seconds without a checkpoint after which another host's lock is stale


def _stale(lock: Path) -> bool:
    """A lock left by a dead process: on this host, its pid is gone; on another host (a shared
    directory), neither the lock nor the run's checkpoint was written for `STALE_AFTER` s."""
    try:
        host, pid = lock.read_text().split()[:2]
    except (OSError, ValueError):
        return True
    if host != socket.gethostname():
        stamps = [p.stat().st_mtime for p in (lock, lock.parent / "checkpoint.pt") if p.exists()]
        return time.time() - max(stamps, default=0.0) > STALE_AFTER
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


class _Lock:
    """``runs/<unit>/lock``, created exclusively; a stale lock (`_stale`) is taken over."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __enter__(self) -> _Lock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(2):
            try:
                fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            except FileExistsError:
                if not _stale(self.path):
                    raise UnitBusy(
                        f"{self.path.parent.name} is being trained by "
                        f"{self.path.read_text().strip()}"
                    ) from None
                self.path.unlink(missing_ok=True)
                continue
            with os.fdopen(fd, "w") as handle:
                handle.write(f"{socket.gethostname()} {os.getpid()}\n")
            return self
        raise UnitBusy(f"{self.path.parent.name}: could not take its lock")

    def __exit__(self, *exc: object) -> None:
        self.path.unlink(missing_ok=True)


def run_unit(
    unit: Unit,
    out_dir: Path,
    source: ImageSource,
    ctx: DistContext | None = None,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Train (or resume) ``unit`` and write each of its missing rows; return its rows.

    Raises:
        UnitBusy: another live process trains this unit.
    """
    ctx = ctx or DistContext()
    out_dir = Path(out_dir)
    missing = [c for c in unit.rows if not row_path(out_dir, c).is_file()]
    if missing:
        run_dir = out_dir / "runs" / unit.run_id
        with _Lock(run_dir / "lock") if ctx.is_main else nullcontext():
            trained = train(unit.config, source, run_dir, ctx, progress)
            if ctx.is_main:
                for config in missing:
                    row = evaluate_row(config, trained, source)
                    write_json(row_path(out_dir, config), row)
    return read_rows(out_dir, unit.rows) if ctx.is_main else []


@dataclass(frozen=True)
class _Job:
    """What a worker process needs to run one unit (picklable)."""

    unit: Unit
    out_dir: str
    data_dir: str | None


def _work(job: _Job) -> tuple[str, float, list[dict[str, Any]]]:
    start = time.perf_counter()
    source = image_source(job.data_dir, job.unit.config.image_size)
    rows = run_unit(job.unit, Path(job.out_dir), source, progress=False)
    return job.unit.run_id, time.perf_counter() - start, rows


def _summary(rows: list[dict[str, Any]]) -> str:
    return ", ".join(f"{r['method']} MCC {r['mcc']:.3f}" for r in rows)


def run_units(
    units: Sequence[Unit],
    out_dir: Path,
    data_dir: str | None,
    workers: int = 1,
    progress: bool = True,
    on_unit: Callable[[], None] | None = None,
    log: Callable[[str], None] = print,
) -> None:
    """Run every unit not yet done, in ``workers`` processes (one torch thread each) or, with
    one worker or one unit left, here; ``on_unit()`` after each finished unit.

    A unit held by another live process (its lock) is skipped with a message. Each finished
    unit is logged with its seconds and an estimate of the time left.
    """
    out_dir = Path(out_dir)
    todo = [u for u in units if unit_status(out_dir, u) != "done"]
    if not todo:
        return
    log(f"{len(todo)} of {len(units)} training runs to do, {min(workers, len(todo))} at a time")
    parallel = max(1, min(workers, len(todo)))
    durations: list[float] = []
    busy: list[str] = []

    def report(run_id: str, seconds: float, rows: list[dict[str, Any]]) -> None:
        durations.append(seconds)
        finished = len(durations)
        left = sum(durations) / finished * (len(todo) - finished) / parallel
        log(
            f"[{finished}/{len(todo)}] {run_id}: {_summary(rows)} ({seconds:.0f} s; "
            f"about {left / 60:.0f} min left)"
        )
        if on_unit is not None:
            on_unit()

    if workers <= 1 or len(todo) == 1:
        for unit in todo:
            begin = time.perf_counter()
            source = image_source(data_dir, unit.config.image_size)
            try:
                rows = run_unit(unit, out_dir, source, progress=progress)
            except UnitBusy as err:
                busy.append(str(err))
                continue
            report(unit.run_id, time.perf_counter() - begin, rows)
    else:
        with worker_pool(workers) as pool:
            pending: set[Future] = {
                pool.submit(_work, _Job(u, str(out_dir), data_dir)) for u in todo
            }
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    try:
                        report(*future.result())
                    except UnitBusy as err:
                        busy.append(str(err))
    for message in busy:
        log(f"skipped: {message}")


def run_sweep(
    configs: Sequence[RunConfig],
    out_dir: Path,
    source: ImageSource,
    ctx: DistContext | None = None,
    progress: bool = True,
    on_row: Callable[[list[dict[str, Any]]], None] | None = None,
) -> list[dict[str, Any]]:
    """Run the units of ``configs`` one by one in this process (data-parallel over ``ctx``'s
    ranks when launched by torchrun); return all finished rows in order of ``configs``.

    ``on_row(rows)`` is called (on rank 0) after each finished unit, e.g. to rewrite the sweep's
    results file, so that an interrupted sweep leaves a plottable file.
    """
    ctx = ctx or DistContext()
    for unit in plan(configs):
        if unit_status(out_dir, unit) == "done":
            continue
        run_unit(unit, out_dir, source, ctx, progress)
        if ctx.is_main and on_row is not None:
            on_row(read_rows(out_dir, configs))
    return read_rows(out_dir, configs) if ctx.is_main else []
