"""The asv benchmark classes, generic over a family of the registry (``bench_*.py`` bind them).

Parameters are ``(method, problem)``: asv prints one table per benchmark with a row per problem
and a column per method, i.e. every method on the same data. Pairs the registry does not hold
are skipped (``NotImplementedError`` in ``setup``), as are methods without a backward in the
forward+backward classes. ``setup`` builds data and layers outside the timed region; asv warms
up itself.
"""

from __future__ import annotations

from collections.abc import Callable

from benchmarks.cases import Case, lookup
from benchmarks.measure import evaluate
from benchmarks.methods import Runner, prepare
from benchmarks.profiles import configure_threads


class _Prepared:
    param_names = ["method", "problem"]
    timeout = 900.0
    needs_backward = False

    case: Case
    runner: Runner

    def setup(self, method: str, problem: str) -> None:
        configure_threads()
        self.case = lookup(method, problem)
        if self.needs_backward and not self.case.method.differentiable:
            raise NotImplementedError(f"{method} has no backward")
        self.runner = prepare(self.case)


class _Forward(_Prepared):
    def time_forward(self, method: str, problem: str) -> None:
        self.runner.forward()

    def peakmem_forward(self, method: str, problem: str) -> None:
        self.runner.forward()


class _ForwardBackward(_Prepared):
    needs_backward = True

    def time_forward_backward(self, method: str, problem: str) -> None:
        self.runner.forward_backward()

    def peakmem_forward_backward(self, method: str, problem: str) -> None:
        self.runner.forward_backward()


def _metric(name: str) -> Callable[[_Prepared, str, str], float]:
    """A ``track_*`` method returning ``METRICS[name]``; NaN (asv's n/a) where it does not
    apply (no gap for the floor, no gradient for a forward-only baseline)."""

    def track(self: _Prepared, method: str, problem: str) -> float:
        return evaluate(self.case, self.runner, (name,))[name]

    return track


class _Accuracy(_Prepared):
    """Accuracy next to time: duality gap, support size, solution and gradient errors against
    the float64 reference (``benchmarks/metrics.py``)."""

    track_gap = _metric("gap")
    track_gap.unit = "relative duality gap"
    track_support = _metric("support")
    track_support.unit = "features per task"
    track_weight_error = _metric("weight_error")
    track_weight_error.unit = "relative error"
    track_grad_error = _metric("grad_error")
    track_grad_error.unit = "relative error"
