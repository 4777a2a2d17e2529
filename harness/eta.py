"""The estimate a sweep prints before it starts: runs × steps × measured seconds per step.

The seconds per step come from what this machine did: the wall time per step of the sweep's
finished runs when it resumes, otherwise a few training steps of its first run to do, timed
here (one warm-up step first, not counted: its allocations are not the run's pace). Runs of
equal length fill ``workers`` processes in waves, so the estimate is
``ceil(runs / workers) × steps × seconds per step``; with early stopping a run may end sooner,
so it is an upper bound of the training time, which is most of a run.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

CALIBRATION_STEPS = 3  # timed steps; one warm-up step is run before them


@dataclass(frozen=True)
class Estimate:
    """The time left of a sweep.

    Attributes:
        runs: training runs to do (not finished yet).
        done: runs already finished (an earlier start of the same sweep).
        steps: steps per run (the most: early stopping may end a run sooner).
        seconds_per_step: the measured wall seconds of one step of one run.
        source: how they were measured, e.g. ``"measured (3 calibration steps)"``.
        workers: runs trained at once.
        noun: what a run is called in the line (``"runs"``, ``"heads"``).
    """

    runs: int
    done: int
    steps: int
    seconds_per_step: float
    source: str
    workers: int = 1
    noun: str = "runs"

    @property
    def seconds(self) -> float:
        """``ceil(runs / workers) × steps × seconds_per_step``."""
        waves = math.ceil(self.runs / max(1, min(self.workers, self.runs or 1)))
        return waves * self.steps * self.seconds_per_step

    def line(self) -> str:
        """``"N runs × S steps, ~X s/step measured (...) → ETA ~H h M min with W workers"``,
        with what is already done when the sweep resumes."""
        if self.runs == 0:
            noun = self.noun if self.done != 1 else self.noun.removesuffix("s")
            return f"nothing to train: {self.done} {noun} done before"
        workers = min(self.workers, self.runs)
        noun = self.noun if self.runs > 1 else self.noun.removesuffix("s")
        text = (
            f"{self.runs} {noun} × {self.steps} steps, ~{self.seconds_per_step:.3g} s/step "
            f"{self.source} → ETA {format_duration(self.seconds)} with {workers} "
            f"worker{'s' if workers > 1 else ''}"
        )
        if self.done:
            text += f"; {self.done} of {self.done + self.runs} {self.noun} done before (resuming)"
        return text


def format_duration(seconds: float) -> str:
    """``~H h M min`` (``~M min`` under an hour, ``<1 min`` under a minute)."""
    minutes = round(seconds / 60)
    if seconds < 60:
        return "<1 min"
    if minutes < 60:
        return f"~{minutes} min"
    return f"~{minutes // 60} h {minutes % 60:02d} min"


def total_line(estimates: Iterable[Estimate]) -> str:
    """``"total: ETA ~H h M min"`` of estimates run one after the other."""
    estimates = list(estimates)
    if all(e.runs == 0 for e in estimates):
        return "total: nothing to train"
    return f"total: ETA {format_duration(sum(e.seconds for e in estimates))}"


def seconds_per_step(
    step: Callable[[], object],
    device: torch.device,
    steps: int = CALIBRATION_STEPS,
    threads: int | None = None,
) -> float:
    """Mean wall seconds of ``steps`` calls of ``step()`` after one warm-up call, on
    ``threads`` torch threads (None: the current number; a sweep's worker processes use 1).
    CUDA work is waited for before the clock is read."""

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    previous = torch.get_num_threads()
    torch.set_num_threads(threads or previous)
    try:
        step()
        sync()
        start = time.perf_counter()
        for _ in range(steps):
            step()
        sync()
    finally:
        torch.set_num_threads(previous)
    return (time.perf_counter() - start) / steps


def from_finished(seconds: Iterable[float], steps: Iterable[int]) -> float | None:
    """Wall seconds per step over finished runs (their seconds and steps), or None if none."""
    total_seconds, total_steps = sum(seconds), sum(steps)
    return total_seconds / total_steps if total_steps > 0 else None


__all__ = [
    "CALIBRATION_STEPS",
    "Estimate",
    "format_duration",
    "from_finished",
    "seconds_per_step",
    "total_line",
]
