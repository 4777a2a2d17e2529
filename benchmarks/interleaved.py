"""Interleaved measurements: our layer at torch's default thread count against one thread, and
against every baseline that has a target, on the headline's problems and the plain SVM heads.

pytest-benchmark times the rounds of one case back to back, and the cases one after another;
on a shared machine a burst of load that lasts a few seconds lands on one side of a ratio only.
Measured in the ``make bench`` of 2026-12-04: our forward on the Toeplitz problem (T = 64,
n = 50, m = 64) took 13.2 ms in the one-thread suite and 7.7-8.0 ms timed alone or next to
the baselines, and our SVM head 19.4 ms (fwd+bwd, 5-shot m = 16,000) in the default-thread
suite and 10.8 ms next to qpth, which turned a 4.1x into a 2.7x; the two suites, minutes
apart, had swung one problem's default / one-thread ratio from 0.6 to 1.6.

Here worker processes alternate the thread settings (one thread, torch's default, one thread,
...) for ``--rounds`` rounds. In a worker, each problem's targeted baselines are timed between
two timings of our layer (best of ``--repeats`` calls; a baseline gets as many calls as fit in
:data:`BASELINE_SECONDS`, at least :data:`BASELINE_MIN_CALLS`), so that both sides of a ratio
meet the same load. The report's threads table, its headline against the targeted baselines
and the SVM head's λ1 > 0 / λ1 = 0 cost ratio (both heads in the same worker) come from these
measurements; per problem they show the ratio of the best times and its range
over the rounds. The threads are set as the benchmark suite sets them
(``SPARSELAYERS_BENCH_THREADS``: ``torch.set_num_threads`` for a number, no call at all for
``default``).

    .venv/bin/python -m benchmarks.interleaved [--profile quick] [--rounds 3] [--repeats 15]
        [--out benchmarks/results/interleaved.json]
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

from benchmarks.profiles import DEFAULT_THREADS, PROFILE_ENV, PROFILES, THREADS_ENV
from benchmarks.results_io import Row

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("headline", "families", "svm")
"""The problems compared: those of the default-thread run of ``benchmarks.report`` (``svm``
holds the headline's MetaOptNet problems, ``headline-svm``) and the plain SVM heads (λ1 = 0 and
λ1 > 0), whose cost ratio the report takes from here."""
OURS = "sl-implicit"
SETTINGS = ("1", DEFAULT_THREADS)
KINDS = ("forward", "forward_backward")
BASELINE_SECONDS = 0.3
"""Time given to one baseline's timed calls on one problem in one round."""
BASELINE_MIN_CALLS = 2
"""Timed calls of a baseline however slow it is (after one untimed call)."""


def best_of(call: Callable[[], object], repeats: int, budget: float = math.inf) -> float:
    """The least wall time of ``repeats`` calls (fewer where they would exceed ``budget``
    seconds, at least :data:`BASELINE_MIN_CALLS`), after one untimed call."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    if math.isfinite(budget):
        repeats = max(BASELINE_MIN_CALLS, min(repeats, int(budget / max(first, 1e-9))))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def primary_kind(method) -> str:
    """The call a method is compared on: fwd+bwd when it is differentiable, else the forward."""
    return "forward_backward" if method.differentiable else "forward"


def targeted(case) -> bool:
    """Whether ``case`` is a baseline that the headline holds a target against."""
    from benchmarks.headline import target

    return case.method.role == "baseline" and target(case.method, case.problem.layer) is not None


def worker(profile: str, repeats: int) -> dict:
    """In this process (its threads set from the environment), per compared problem: the best
    times of our layer (``times``: {problem: {kind: s}}), of each targeted baseline on its
    :func:`primary_kind` (``baselines``: {problem: {method: s}}), the tasks each solves
    (``tasks``) and the baselines that raised (``failed``: {problem: {method: error}})."""
    from benchmarks.cases import all_cases
    from benchmarks.methods import Unavailable, prepare
    from benchmarks.profiles import configure_threads

    threads = configure_threads()
    by_problem: dict[str, list] = {}
    for case in all_cases(PROFILES[profile], only=SUITES):
        by_problem.setdefault(case.problem.id, []).append(case)
    data: dict = {"threads": threads, "times": {}, "baselines": {}, "tasks": {}, "failed": {}}
    for problem, cases in by_problem.items():
        ours = [c for c in cases if c.method.name == OURS]
        if not ours:
            continue
        runner = prepare(ours[0])
        times = {kind: best_of(getattr(runner, kind), repeats) for kind in KINDS}
        tasks = {OURS: ours[0].tasks}
        baselines, failed = {}, {}
        for case in filter(targeted, cases):
            try:
                other = prepare(case)
                call = getattr(other, primary_kind(case.method))
                baselines[case.method.name] = best_of(call, repeats, BASELINE_SECONDS)
                tasks[case.method.name] = case.tasks
            except Unavailable:
                continue
            except Exception as err:  # a baseline's failure is a result, as in the suite
                failed[case.method.name] = f"{type(err).__name__}: {err}"[:300]
        if baselines:  # our layer again, after the baselines: its best of both timings
            for kind in KINDS:
                times[kind] = min(times[kind], best_of(getattr(runner, kind), repeats))
        data["times"][problem] = times
        data["baselines"][problem] = baselines
        data["tasks"][problem] = tasks
        if failed:
            data["failed"][problem] = failed
    return data


def measure(profile: str, rounds: int, repeats: int, out: Path | None = None) -> dict:
    """Alternate worker processes over ``rounds`` rounds; returns (and writes to ``out``)
    ``{"profile", "rounds", "repeats", "default_threads", "times": {setting: [per round]},
    "baselines": {setting: [per round]}, "tasks", "failed": {setting: [per round]}}``. A round
    that fails stops the measurement with the worker's error."""
    data: dict = {
        "profile": profile,
        "rounds": rounds,
        "repeats": repeats,
        "times": {},
        "baselines": {},
        "failed": {},
    }
    for r in range(rounds):
        for setting in SETTINGS:
            print(f"interleaved: round {r + 1}/{rounds}, {setting} thread(s)", flush=True)
            result = _run_worker(profile, repeats, setting)
            for key in ("times", "baselines", "failed"):
                data[key].setdefault(setting, []).append(result[key])
            data["tasks"] = result["tasks"]
            if setting == DEFAULT_THREADS:
                data["default_threads"] = result["threads"]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1, sort_keys=True))
    return data


def _run_worker(profile: str, repeats: int, setting: str) -> dict:
    env = dict(os.environ, **{PROFILE_ENV: profile, THREADS_ENV: setting})
    command = [sys.executable, "-m", "benchmarks.interleaved", "--worker"]
    command += ["--profile", profile, "--repeats", str(repeats)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"interleaved worker ({setting} threads) failed:\n{done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])


class Compared(NamedTuple):
    """One problem and kind: the best times at one thread and at torch's default (s), the
    ratio of the two (default / one thread: at most 1 where the default is not slower) and
    the least and largest ratio of one round."""

    one: float
    default: float
    ratio: float
    low: float
    high: float


def comparison(data: dict) -> dict[str, dict[str, Compared]]:
    """:class:`Compared` per problem and kind (``forward``, ``forward_backward``) of a
    :func:`measure` result."""
    one, default = data["times"]["1"], data["times"][DEFAULT_THREADS]
    out: dict[str, dict[str, Compared]] = {}
    for problem in one[0]:
        out[problem] = {}
        for kind in KINDS:
            a = [round_[problem][kind] for round_ in one]
            b = [round_[problem][kind] for round_ in default]
            per_round = [y / x for x, y in zip(a, b, strict=True)]
            out[problem][kind] = Compared(
                min(a), min(b), min(b) / min(a), min(per_round), max(per_round)
            )
    return out


@dataclass(frozen=True)
class Interleaved:
    """The measurements at one thread setting as report rows: ``best`` (the best time of each
    case over the rounds) and ``rounds`` (one dict per round), keyed by case id; ``methods``
    are the baselines measured (the headline takes their comparisons from here)."""

    best: dict[str, Row]
    rounds: list[dict[str, Row]]
    methods: frozenset[str]
    setting: str


def as_rows(data: dict, setting: str, suite: dict[str, Row]) -> Interleaved:
    """:class:`Interleaved` at ``setting`` (``"1"`` or ``"default"``) of a :func:`measure`
    result: each row is the ``suite``'s row of the case (pytest-benchmark's, with its accuracy
    metrics and op counts) carrying the interleaved times instead; a baseline that raised in a
    round is a failed row there (and in ``best`` when it raised in every round)."""
    rounds: list[dict[str, Row]] = []
    per_round = data["times"][setting]
    no_baselines = [{} for _ in per_round]  # a result of the threads comparison alone
    all_baselines = data.get("baselines", {}).get(setting, no_baselines)
    for r, times in enumerate(per_round):
        baselines = all_baselines[r]
        failed = data.get("failed", {}).get(setting, no_baselines)[r]
        found: dict[str, Row] = {}
        for problem, ours in times.items():
            _put(found, suite, problem, OURS, ours)
            for method, seconds in baselines.get(problem, {}).items():
                _put(found, suite, problem, method, {_kind_of(method): seconds})
            for method, error in failed.get(problem, {}).items():
                if (row := suite.get(f"{problem}-{method}")) is not None:
                    found[row.case] = replace(row, status="failed", error=error)
        rounds.append(found)
    best: dict[str, Row] = {}
    for case in dict.fromkeys(c for found in rounds for c in found):
        measured = [found[case] for found in rounds if case in found]
        ok = [row for row in measured if row.status == "ok"]
        if not ok:
            best[case] = measured[0]
            continue
        times = {
            kind: min(values)
            for kind in KINDS
            if (values := [t for row in ok if (t := getattr(row, kind)) is not None])
        }
        best[case] = replace(ok[0], **times)
    methods = frozenset(m for found in all_baselines for b in found.values() for m in b)
    return Interleaved(best, rounds, methods, setting)


def _kind_of(method: str) -> str:
    from benchmarks.cases import METHODS

    return primary_kind(METHODS[method])


def _put(found: dict[str, Row], suite: dict[str, Row], problem: str, method: str, times) -> None:
    """The suite's row of ``problem``/``method`` with ``times`` ({kind: s}), into ``found``
    (nothing when the suite has no such row: a case only the interleaved run measured)."""
    row = suite.get(f"{problem}-{method}")
    if row is not None:
        found[row.case] = replace(
            row,
            forward=times.get("forward"),
            forward_backward=times.get("forward_backward"),
            backward_alone=None,
            status="ok",
            error="",
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "quick"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "interleaved.json"
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.profile not in PROFILES:
        parser.error(f"--profile must be one of {sorted(PROFILES)}, got {args.profile!r}")
    if args.rounds < 1 or args.repeats < 1:
        parser.error(f"--rounds and --repeats must be >= 1, got {args.rounds}, {args.repeats}")
    if args.worker:
        print(json.dumps(worker(args.profile, args.repeats)))
        return 0
    data = measure(args.profile, args.rounds, args.repeats, args.out)
    for problem, kinds in comparison(data).items():
        said = [f"{kind} {c.ratio:.2f}x ({c.low:.2f}-{c.high:.2f})" for kind, c in kinds.items()]
        print(f"  {problem}: default / one thread, " + ", ".join(said))
    print(f"interleaved: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
