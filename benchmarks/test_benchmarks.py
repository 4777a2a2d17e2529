"""pytest-benchmark suite over the registry: ``pytest benchmarks --benchmark-only`` prints one
comparison table per problem (every method on the same data); ``--benchmark-json`` feeds
``python -m benchmarks.report``. Accuracy metrics and op counts go to each benchmark's
``extra_info``; ``SPARSELAYERS_BENCH_SUITES`` restricts the cases to some suites."""

from __future__ import annotations

import pytest

from benchmarks.cases import Case, all_cases, suites
from benchmarks.profiles import SUITES_ENV, current_profile, selected_suites
from benchmarks.run_case import run_case

ONLY = selected_suites()
if ONLY is not None and set(ONLY) - set(suites(current_profile())):
    raise ValueError(
        f"{SUITES_ENV} names unknown suites: {sorted(set(ONLY) - set(suites(current_profile())))}"
    )
CASES = all_cases(only=ONLY)
DIFFERENTIABLE = all_cases(differentiable=True, only=ONLY)
BACKWARD_ALONE = [c for c in DIFFERENTIABLE if c.method.name in ("sl-implicit", "sl-unroll")]


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_forward(benchmark, case: Case) -> None:
    run_case(benchmark, case, "forward")


@pytest.mark.parametrize("case", DIFFERENTIABLE, ids=lambda case: case.id)
def test_forward_backward(benchmark, case: Case) -> None:
    run_case(benchmark, case, "forward_backward")


@pytest.mark.parametrize("case", BACKWARD_ALONE, ids=lambda case: case.id)
def test_backward(benchmark, case: Case) -> None:
    """The backward alone (the forward runs in pytest-benchmark's untimed setup)."""
    run_case(benchmark, case, "backward")
