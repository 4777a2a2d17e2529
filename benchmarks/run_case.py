"""The pytest-benchmark side of a case: prepare, warm up, time, record accuracy, op counts or
failure."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from benchmarks.cases import Case
from benchmarks.measure import accuracy, op_counts, rounds_for, timed_call
from benchmarks.methods import Unavailable, prepare
from benchmarks.profiles import current_profile, threads_setting


def case_info(case: Case, kind: str) -> dict[str, object]:
    """What the report needs to know about a benchmark, besides its timings."""
    p = case.problem
    return {
        "case": case.id,
        "kind": kind,
        "problem": p.id,
        "layer": p.layer,
        "method": case.method.name,
        "role": case.method.role,
        "T": p.T,
        "n": p.n,
        "m": p.m,
        "k": p.k,
        "dtype": p.dtype,
        "lam": p.lam,
        "dual_ridge": p.dual_ridge,
        "correlation": p.correlation,
        "truth": p.truth,
        "tasks": case.tasks,
        "profile": current_profile().name,
        "threads": torch.get_num_threads(),
        "threads_setting": threads_setting(),
        "torch": torch.__version__,
        "status": "ok",
    }


def run_case(benchmark, case: Case, kind: str) -> None:
    """Time ``kind`` (``forward`` or ``forward_backward``) of ``case`` with pytest-benchmark.

    A baseline that raises is recorded as failed with its error (and the test xfails, so that
    it shows in the summary); a failure of our own layers fails the test.
    """
    profile = current_profile()
    benchmark.group = f"{case.problem.id} {kind}"
    benchmark.extra_info.update(case_info(case, kind))
    try:
        runner = prepare(case)
    except Unavailable as err:
        pytest.skip(str(err))
    if kind == "backward":
        _time_backward(benchmark, runner.start_backward, profile)
        return
    call = getattr(runner, kind)
    try:
        # A baseline is always tried once untimed, so that its failure is recorded (and xfails)
        # in the profiles without warm-up too.
        warm = profile.warmup or case.method.role != "ours"
        seconds = timed_call(call) if warm else 0.0
    except Exception as err:
        if case.method.role == "ours":
            raise
        _record_failure(benchmark, call, err)
        return
    rounds, iterations = rounds_for(seconds, profile)
    benchmark.pedantic(call, rounds=rounds, iterations=iterations)
    primary = "forward_backward" if case.method.differentiable else "forward"
    if kind == primary:
        benchmark.extra_info.update(accuracy(case, runner))
        benchmark.extra_info.update(op_counts(case, runner))


def _time_backward(benchmark, start: Callable[[], Callable[[], None]], profile) -> None:
    """Time the backward alone: each round's forward runs in the untimed ``setup``."""
    seconds = timed_call(lambda: start()()) if profile.warmup else 0.0
    rounds, _ = rounds_for(seconds, profile)
    benchmark.pedantic(lambda backward: backward(), setup=lambda: ((start(),), {}), rounds=rounds)


def _record_failure(benchmark, call, err: Exception) -> None:
    def attempt() -> None:
        try:
            call()
        except Exception:
            pass

    benchmark.pedantic(attempt, rounds=1, iterations=1)  # time to failure, for the record
    message = f"{type(err).__name__}: {err}".strip()
    benchmark.extra_info.update(status="failed", error=message)
    pytest.xfail(f"baseline failed: {message}")
