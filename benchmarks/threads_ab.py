"""Our layer at torch's default thread count against one thread, measured interleaved.

The two pytest-benchmark runs of ``make bench`` (every case at one thread, then the headline
problems at torch's default) are minutes apart, and on a shared machine minutes apart is
another machine: their ratios of one problem swung from 0.6 to 1.6 between runs. Here each
problem of the default-thread suites is timed in worker processes that alternate (one thread,
torch's default, one thread, ...) for ``--rounds`` rounds, so that both sides meet the same
drift; per problem the report shows the ratio of the best times and its range over the rounds.
The threads are set as the benchmark suite sets them (``SPARSELAYERS_BENCH_THREADS``:
``torch.set_num_threads`` for a number, no call at all for ``default``).

    .venv/bin/python -m benchmarks.threads_ab [--profile quick] [--rounds 3] [--repeats 15]
        [--out benchmarks/results/threads.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from benchmarks.profiles import DEFAULT_THREADS, PROFILE_ENV, PROFILES, THREADS_ENV

ROOT = Path(__file__).resolve().parents[1]
SUITES = ("headline", "families", "headline-svm")
"""The problems compared (those of the default-thread run of ``benchmarks.report``)."""
METHOD = "sl-implicit"
SETTINGS = ("1", DEFAULT_THREADS)
KINDS = ("forward", "forward_backward")


def best_of(call: Callable[[], object], repeats: int) -> float:
    """The least wall time of ``repeats`` calls, after one untimed call."""
    call()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        best = min(best, time.perf_counter() - start)
    return best


def worker(profile: str, repeats: int) -> dict:
    """In this process (its threads set from the environment): the best times of our layer on
    every compared problem, ``{"threads": n, "times": {problem: {kind: seconds}}}``."""
    from benchmarks.cases import all_cases
    from benchmarks.methods import prepare
    from benchmarks.profiles import configure_threads

    threads = configure_threads()
    times: dict[str, dict[str, float]] = {}
    for case in all_cases(PROFILES[profile], only=SUITES):
        if case.method.name != METHOD:
            continue
        runner = prepare(case)
        times[case.problem.id] = {kind: best_of(getattr(runner, kind), repeats) for kind in KINDS}
    return {"threads": threads, "times": times}


def measure(profile: str, rounds: int, repeats: int, out: Path | None = None) -> dict:
    """Alternate worker processes over ``rounds`` rounds; returns (and writes to ``out``)
    ``{"profile", "rounds", "repeats", "default_threads", "times": {setting: [per round]}}``.
    A round that fails stops the measurement with the worker's error."""
    data: dict = {"profile": profile, "rounds": rounds, "repeats": repeats, "times": {}}
    for r in range(rounds):
        for setting in SETTINGS:
            print(f"threads A/B: round {r + 1}/{rounds}, {setting} thread(s)", flush=True)
            result = _run_worker(profile, repeats, setting)
            data["times"].setdefault(setting, []).append(result["times"])
            if setting == DEFAULT_THREADS:
                data["default_threads"] = result["threads"]
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=1, sort_keys=True))
    return data


def _run_worker(profile: str, repeats: int, setting: str) -> dict:
    env = dict(os.environ, **{PROFILE_ENV: profile, THREADS_ENV: setting})
    command = [sys.executable, "-m", "benchmarks.threads_ab", "--worker"]
    command += ["--profile", profile, "--repeats", str(repeats)]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"threads A/B worker ({setting} threads) failed:\n{done.stderr}")
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "quick"))
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument(
        "--out", type=Path, default=ROOT / "benchmarks" / "results" / "threads.json"
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
    print(f"threads A/B: wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
