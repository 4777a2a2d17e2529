"""Measurements shared by both harnesses: the accuracy record of a case, its op and sync
counts, and the timing loop of the pytest-benchmark suite (asv times with its own loop)."""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Callable

import torch
from torch import Tensor

from benchmarks.cases import Case
from benchmarks.methods import Output, Runner, Unavailable
from benchmarks.methods.ours import svm_available
from benchmarks.metrics import (
    regression_gap,
    regression_reference,
    relative_error,
    support_size,
    svm_gap,
    svm_reference,
)
from benchmarks.profiles import Profile

Grads = tuple[Tensor, ...] | None


def reference(case: Case) -> tuple[Tensor, tuple[Tensor, ...]] | None:
    """float64 reference ``(weights, grads)`` of the case's tasks (None: not available)."""
    if case.problem.layer == "svm":
        return svm_reference(case.problem, case.tasks) if svm_available() else None
    return regression_reference(case.problem, case.tasks)


def gap(case: Case, out: Output, grads: Grads) -> float:
    """Largest relative duality gap of the returned solution, evaluated in float64."""
    if case.problem.layer == "svm":
        if out.dual is None:
            return math.nan
        return svm_gap(out.weights, out.dual, case.problem, case.tasks)
    if case.problem.layer == "l21" or case.method.role == "floor":
        return math.nan
    return regression_gap(case.problem, out.weights, case.tasks)


def support(case: Case, out: Output, grads: Grads) -> float:
    """Mean support size (features with a nonzero weight) per task."""
    if case.problem.layer == "l21" or case.method.role == "floor":
        return math.nan
    return support_size(out.weights.detach(), case.tasks)


def weight_error(case: Case, out: Output, grads: Grads) -> float:
    """Relative error of the solution against the float64 reference."""
    ref = reference(case)
    if ref is None or case.method.role == "floor":
        return math.nan
    return relative_error(out.weights.detach(), ref[0])


def grad_error(case: Case, out: Output, grads: Grads) -> float:
    """Relative error of the VJP (fixed cotangent) against the float64 reference."""
    ref = reference(case)
    if ref is None or grads is None:
        return math.nan
    flat = torch.cat([g.detach().double().reshape(-1) for g in grads])
    return relative_error(flat, torch.cat([g.reshape(-1) for g in ref[1]]))


METRICS: dict[str, Callable[[Case, Output, Grads], float]] = {
    "gap": gap,
    "support": support,
    "weight_error": weight_error,
    "grad_error": grad_error,
}


def evaluate(case: Case, runner: Runner, names: tuple[str, ...] = tuple(METRICS)) -> dict:
    """``{name: value}`` of the metrics ``names`` (NaN where one does not apply), from one
    forward and, for a differentiable method whose gradient is asked for, one backward."""
    out = runner.forward()
    grads = None
    if "grad_error" in names and case.method.differentiable:
        grads = runner.forward_backward()
    return {name: METRICS[name](case, out, grads) for name in names}


def accuracy(case: Case, runner: Runner) -> dict[str, float | None]:
    """Every metric of :data:`METRICS` (``None`` where it does not apply)."""
    return {k: None if math.isnan(v) else v for k, v in evaluate(case, runner).items()}


SCALAR_READ = "aten::_local_scalar_dense"
"""The op behind every ``.item()``, ``bool(t)``, ``int(t)`` and ``float(t)`` of a tensor: a
device-to-host copy that a GPU must finish its queue for."""
DATA_DEPENDENT_SHAPE = "aten::nonzero"
"""The op behind boolean-mask indexing and ``nonzero``: its output's size is read back to the
host, so on a GPU it synchronizes as a scalar read does."""


def count_ops(fn: Callable[[], object]) -> dict[str, int]:
    """Ops that one call of ``fn`` dispatches, from ``torch.profiler`` (CPU activity).

    Returns ``ops``: every ``aten::`` event, nested ones included (an op that calls others
    counts each: it is the dispatcher's work per call, what bounds a small problem's time);
    ``syncs``: the events that make a GPU wait for the host to read a result back (scalar
    reads, :data:`SCALAR_READ`, and data-dependent shapes, :data:`DATA_DEPENDENT_SHAPE`), of
    which ``scalar_reads`` are the first kind. Counted on the CPU, where the same Python code
    issues the same ops (``torch.cuda.set_sync_debug_mode`` checks the GPU side).
    """
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        fn()
    names = Counter(event.name for event in prof.events())
    ops = sum(count for name, count in names.items() if name.startswith("aten::"))
    reads = names[SCALAR_READ]
    return {"ops": ops, "syncs": reads + names[DATA_DEPENDENT_SHAPE], "scalar_reads": reads}


OP_KEYS = ("ops", "syncs", "scalar_reads")
COUNTED_METHODS = ("sl-implicit", "sl-autograd", "floor")
"""Methods whose ops are counted: our layers' default mode and the floor. Not the baselines
(their work is not torch ops), the cvxpy reference mode (idem), nor unrolling (tens of
thousands of events, seconds of profiler bookkeeping per call)."""


def op_counts(case: Case, runner: Runner) -> dict[str, int]:
    """``{f"{key}_{kind}": count}`` of :func:`count_ops` for one forward and, for a
    differentiable method, one forward+backward (``kind`` = ``forward`` /
    ``forward_backward``); empty for a method outside :data:`COUNTED_METHODS`."""
    if case.method.name not in COUNTED_METHODS:
        return {}
    kinds = ["forward"] + (["forward_backward"] if case.method.differentiable else [])
    counts = {}
    for kind in kinds:
        for key, value in count_ops(getattr(runner, kind)).items():
            counts[f"{key}_{kind}"] = value
    return counts


def timed_call(fn: Callable[[], object]) -> float:
    """Seconds taken by one call of ``fn``."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def rounds_for(seconds: float, profile: Profile) -> tuple[int, int]:
    """``(rounds, iterations)`` that spend about ``profile.budget_s`` on a call of ``seconds``.

    Iterations per round keep a round above 1 ms (timer resolution); rounds are capped.
    """
    if profile.budget_s <= 0:
        return 1, 1
    iterations = max(1, min(1000, int(1e-3 / max(seconds, 1e-9))))
    rounds = int(profile.budget_s / max(seconds * iterations, 1e-9))
    return max(1, min(profile.max_rounds, rounds)), iterations


__all__ = [
    "METRICS",
    "Unavailable",
    "accuracy",
    "count_ops",
    "evaluate",
    "op_counts",
    "reference",
    "rounds_for",
    "timed_call",
]
