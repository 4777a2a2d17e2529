"""The asv benchmark classes, generic over a family of the registry (``bench_*.py`` bind them).

Parameters are ``(method, problem)``: asv prints one table per benchmark with a row per problem
and a column per method, i.e. every method on the same data. Pairs the registry does not hold
are skipped (``NotImplementedError`` in ``setup``), as are methods without a backward in the
forward+backward classes. ``setup`` builds data and layers outside the timed region; asv warms
up itself. Accuracy and op counts are not timings: they are computed once for every case in
asv's ``setup_cache`` and read by ``track_*`` benchmarks.

The sizes are those of the ``asv`` profile unless ``SPARSELAYERS_BENCH_PROFILE`` names another:
asv sets every benchmark up again in a fresh process, which the ``asv`` profile keeps within
minutes for ``asv run --quick``.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable

import torch

from benchmarks.profiles import PROFILE_ENV, configure_threads

os.environ.setdefault(PROFILE_ENV, "asv")  # before any registry is built (bench_*.py params)

from benchmarks.cases import Case, all_cases, lookup  # noqa: E402
from benchmarks.measure import COUNTED_METHODS, evaluate, op_counts  # noqa: E402
from benchmarks.methods import Runner, prepare  # noqa: E402

# torch.broadcast_shapes (which the layers' input checks call) imports sympy on its first call,
# about 1 s. Paid here, in the process that asv forks every benchmark from, and not once per
# benchmark.
torch.broadcast_shapes((1,), (1,))


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


def _every_case(
    measure: Callable[[Case, Runner], dict[str, float]], methods: tuple[str, ...] | None = None
) -> dict[str, dict]:
    """``{case id: measure(case, runner)}`` over every case of the profile (of ``methods``
    only, if given), in this process (shared data, one float64 reference per problem). A
    baseline that cannot run or fails is left out (its ``track_*`` read n/a; its ``time_*``
    benchmark shows the error); a failure of our own layers propagates."""
    configure_threads()
    values = {}
    for case in all_cases():
        if methods is not None and case.method.name not in methods:
            continue
        try:
            runner = prepare(case)
            values[case.id] = measure(case, runner)
        except NotImplementedError:
            continue
        except Exception as err:
            if case.method.role == "ours":
                raise
            print(f"{case.id}: not tracked, {type(err).__name__}: {err}", file=sys.stderr)
    return values


def _tracked(name: str) -> Callable[..., float]:
    """A ``track_*`` method reading ``name`` from the ``setup_cache`` values (NaN, asv's n/a,
    where it does not apply)."""

    def track(self, values: dict[str, dict], method: str, problem: str) -> float:
        return float(values[f"{problem}-{method}"].get(name, math.nan))

    return track


class _Tracked:
    """Numbers that are not timings, computed once for every case in asv's ``setup_cache`` (one
    process for the whole suite, instead of a data set-up and a reference solve per number and
    parameter pair) and read by the ``track_*`` benchmarks. Subclasses share the cache: one
    ``setup_cache`` function, one asv cache key."""

    param_names = ["method", "problem"]
    timeout = 900.0

    def setup(self, values: dict[str, dict], method: str, problem: str) -> None:
        if f"{problem}-{method}" not in values:
            raise NotImplementedError(f"nothing tracked for {method} on {problem}")


class _Accuracy(_Tracked):
    """Accuracy next to time: duality gap, support size, solution and gradient errors against
    the float64 reference (``benchmarks/metrics.py``)."""

    def setup_cache(self) -> dict[str, dict]:
        return _every_case(evaluate)

    setup_cache.timeout = 1800.0

    track_gap = _tracked("gap")
    track_gap.unit = "relative duality gap"
    track_support = _tracked("support")
    track_support.unit = "features per task"
    track_weight_error = _tracked("weight_error")
    track_weight_error.unit = "relative error"
    track_grad_error = _tracked("grad_error")
    track_grad_error.unit = "relative error"


class _Ops(_Tracked):
    """Ops per solve (every ``aten::`` event of a ``torch.profiler`` trace) and host syncs
    (scalar reads and data-dependent shapes) of one forward and one forward+backward, for our
    default mode and the floor (``measure.COUNTED_METHODS``)."""

    def setup_cache(self) -> dict[str, dict]:
        return _every_case(op_counts, COUNTED_METHODS)

    setup_cache.timeout = 1800.0

    track_ops_forward = _tracked("ops_forward")
    track_ops_forward.unit = "aten ops"
    track_ops_forward_backward = _tracked("ops_forward_backward")
    track_ops_forward_backward.unit = "aten ops"
    track_syncs_forward = _tracked("syncs_forward")
    track_syncs_forward.unit = "host syncs"
    track_syncs_forward_backward = _tracked("syncs_forward_backward")
    track_syncs_forward_backward.unit = "host syncs"
