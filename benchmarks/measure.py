"""Measurements shared by both harnesses: the accuracy record of a case, and the timing loop
of the pytest-benchmark suite (asv times with its own loop)."""

from __future__ import annotations

import math
import time
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
    "evaluate",
    "reference",
    "rounds_for",
    "timed_call",
]
