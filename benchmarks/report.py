"""``python -m benchmarks.report``: run the quick profile through pytest-benchmark, once at one
torch thread (every case) and once at torch's default thread count (the headline problems), and
write ``benchmarks/results/report.md`` and the scaling plots (``make bench``).

It states the expected duration before it starts, keeps pytest's output in
``results/pytest-*.log`` (the console shows progress only) and ends with a short summary; the
full tables are in the report.

After the two runs, ``benchmarks.interleaved`` times the headline problems and the plain SVM
heads again in worker processes that alternate one thread and the default
(:data:`INTERLEAVED_ROUNDS` rounds), our layer and each targeted baseline side by side: the
report's threads table, the headline's targeted comparisons and the SVM head's λ1 cost table
come from it, not from the suite runs.

Options: ``--json PATH`` (and ``--default-json PATH``, ``--interleaved-json PATH``) renders existing
files instead of running; ``--profile`` picks the profile; ``--out`` the output folder;
``--one-thread-only`` skips the run at the default thread count and the interleaved one.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks import headline, tables
from benchmarks.cases import all_cases, families, suites
from benchmarks.interleaved import comparison, measure
from benchmarks.profiles import (
    DEFAULT_THREADS,
    PROFILE_ENV,
    PROFILES,
    SUITES_ENV,
    THREADS_ENV,
    Profile,
)
from benchmarks.report_text import family_labels, interleaved_rows, render
from benchmarks.results_io import load_rows

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"
LAST_RUN = "last_run.json"

DEFAULT_THREAD_SUITES = ("headline", "families", "headline-svm")
"""What the run at torch's default threads measures (the headline's problems)."""
SECONDS_PER_BENCHMARK = 0.96
"""Wall time per benchmark of the quick profile (1 s timing budget), everything included (skipped
pairs, fast cases that end their rounds early, warm-up, accuracy reference, op counts): 699
benchmarks took 11.2 minutes on the 2-core development machine (2026-12-02). Other profiles
scale it with their budget."""
LAM1_MAX_SECONDS = 1.0
"""Wall time of ``svm_lambda1_max`` for one SVM size at m ≥ 10,000 when it is not cached yet
(0.2-0.7 s at tol 1e-2 for 8 heads, see ``data.py``)."""
INTERLEAVED_ROUNDS, INTERLEAVED_REPEATS = 3, 15
"""Rounds, and calls per round of our layer, of the interleaved run."""
INTERLEAVED_SECONDS = 510.0
"""Its wall time on the quick profile's 24 problems (the 16 of the headline and the 8 plain SVM
heads) and their targeted baselines: 8.5 minutes on the 2-core development machine
(2026-12-08; 7.2 minutes before the plain heads were added)."""
PROGRESS = re.compile(r"^[.sxXFE]+\s*(\[\s*\d+%\])?$|^=+ .* in [\d.]+s")


@dataclass(frozen=True)
class Run:
    """One pytest-benchmark run: its thread setting, suites (None: all) and output files."""

    name: str
    threads: str
    only: tuple[str, ...] | None
    skip_backward_alone: bool

    def json(self, out: Path) -> Path:
        return out / f"benchmark{'' if self.name == 'one-thread' else '-' + self.name}.json"


RUNS = (
    Run("one-thread", "1", None, False),
    Run("default-threads", DEFAULT_THREADS, DEFAULT_THREAD_SUITES, True),
)


def benchmarks_of(run: Run, profile: Profile) -> int:
    """How many benchmarks (tests) ``run`` makes on ``profile``."""
    cases = all_cases(profile, only=run.only)
    count = len(cases) + sum(c.method.differentiable for c in cases)
    if not run.skip_backward_alone:
        count += sum(c.method.name in ("sl-implicit", "sl-unroll") for c in cases)
    return count


def estimate_seconds(run: Run, profile: Profile) -> float:
    """A rough duration of ``run``: :data:`SECONDS_PER_BENCHMARK` per benchmark (scaled by the
    profile's timing budget), plus λ1_max of every large SVM size it sets up."""
    large_svm = {
        (c.problem.n, c.problem.m)
        for c in all_cases(profile, only=run.only)
        if c.problem.layer == "svm" and c.problem.lam > 0 and c.problem.m >= 10_000
    }
    per = SECONDS_PER_BENCHMARK * max(profile.budget_s, 0.25)
    return benchmarks_of(run, profile) * per + LAM1_MAX_SECONDS * len(large_svm)


def announce(runs: list[Run], profile: Profile, out: Path) -> None:
    """Print what will run and for about how long (and how long the last run took here)."""
    total = sum(estimate_seconds(run, profile) for run in runs)
    total += INTERLEAVED_SECONDS if len(runs) > 1 else 0.0
    count = sum(benchmarks_of(run, profile) for run in runs)
    line = f"{count} benchmarks ({profile.name} profile): expect about {total / 60:.0f} minutes"
    last = out / LAST_RUN
    if last.exists():
        previous = json.loads(last.read_text())
        line += f" (the last run here took {previous['seconds'] / 60:.0f} minutes)"
    print(line + f"; pytest's output goes to {out}/pytest-*.log.", flush=True)


def run_pytest(run: Run, json_path: Path, profile: str, log: Path) -> int:
    """Run the pytest-benchmark suite in a subprocess, echoing only its progress; returns
    pytest's exit code."""
    env = dict(os.environ, **{PROFILE_ENV: profile, THREADS_ENV: run.threads})
    env.pop(SUITES_ENV, None)
    if run.only is not None:
        env[SUITES_ENV] = ",".join(run.only)
    command = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks",
        "--benchmark-only",
        f"--benchmark-json={json_path}",
        "--benchmark-quiet",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    if run.skip_backward_alone:
        command += ["-k", "not test_backward"]
    threads = "torch's default" if run.threads == DEFAULT_THREADS else run.threads
    print(f"{run.name}: {threads} thread(s); log {log.name}", flush=True)
    with log.open("w") as sink:
        sink.write(" ".join(command) + f"\n({PROFILE_ENV}={profile} {THREADS_ENV}={run.threads})\n")
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        assert process.stdout is not None
        for line in process.stdout:
            sink.write(line)
            if PROGRESS.match(line.strip()):
                print("  " + line.rstrip(), flush=True)
        return process.wait()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="render this benchmark JSON, do not run")
    parser.add_argument("--default-json", type=Path, help="with --json: the default-threads run")
    parser.add_argument(
        "--interleaved-json", type=Path, help="with --json: a benchmarks.interleaved result"
    )
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "quick"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--one-thread-only", action="store_true")
    args = parser.parse_args(argv)
    if args.profile not in PROFILES:
        parser.error(f"--profile must be one of {sorted(PROFILES)}, got {args.profile!r}")
    args.out.mkdir(parents=True, exist_ok=True)
    code = 0
    paths = [args.json, args.default_json]
    if args.json is None:
        runs = list(RUNS[:1] if args.one_thread_only else RUNS)
        announce(runs, PROFILES[args.profile], args.out)
        start = time.perf_counter()
        paths = [None, None]
        for i, run in enumerate(runs):
            path = run.json(args.out)
            path.unlink(missing_ok=True)
            log = args.out / f"pytest-{run.name}.log"
            code = run_pytest(run, path, args.profile, log) or code
            if not path.exists():
                print(f"pytest wrote no {path} (exit code {code}); see {log}", file=sys.stderr)
                return code or 1
            paths[i] = path
        if len(runs) > 1:
            args.interleaved_json = args.out / "interleaved.json"
            try:
                measure(
                    args.profile, INTERLEAVED_ROUNDS, INTERLEAVED_REPEATS, args.interleaved_json
                )
            except RuntimeError as err:  # the report still renders, from the two runs
                print(f"interleaved run failed, the report is from the two suite runs: {err}")
                args.interleaved_json = None
        seconds = time.perf_counter() - start
        (args.out / LAST_RUN).write_text(json.dumps({"seconds": seconds, "profile": args.profile}))
        print(f"measured in {seconds / 60:.1f} minutes")
    rows, header = load_rows(paths[0])
    default_rows, default_header = load_rows(paths[1]) if paths[1] else (None, None)
    profile = PROFILES.get(header["profile"], PROFILES[args.profile])
    registry_suites, registry_families = suites(profile), families(profile)
    ab = args.interleaved_json
    interleaved = json.loads(ab.read_text()) if ab else None
    report = render(
        rows,
        header,
        registry_suites,
        registry_families,
        args.out,
        default_rows,
        default_header,
        interleaved,
    )
    path = args.out / "report.md"
    path.write_text(report)
    print_summary(
        rows, default_rows, default_header, registry_suites, registry_families, interleaved
    )
    print(f"full tables: {path}")
    return code


def print_summary(
    rows, default_rows, default_header, registry_suites, registry_families, interleaved=None
) -> None:
    """The headline in a few console lines, and whether our layer is slower by default (from
    the interleaved comparison where there is one)."""
    regression = [p.id for problems in registry_families.values() for p in problems]
    svm = [p.id for p in registry_suites["svm"]]
    family_of = family_labels(registry_families, registry_suites["svm"])
    print("summary (worst family per comparison):")
    runs = [("1", rows)]
    if default_rows is not None:
        runs.append((f"default ({default_header['threads']})", default_rows))
    abs_ = interleaved_rows(interleaved, rows, default_rows)
    for problems in (regression, svm):
        for (label, run), ab in zip(runs, abs_, strict=False):
            for line in headline.summary(run, problems, family_of, label, ab):
                print(line)
    if interleaved is not None:
        compared = comparison(interleaved)
        lines = tables.interleaved_threads_lines(compared, regression + svm)
        how = f"interleaved, {interleaved['rounds']} rounds"
    elif default_rows is not None:
        lines = tables.threads_lines(rows, default_rows, regression + svm)
        how = "two runs minutes apart"
    else:
        return
    slower = [line[0] for line in lines if line[-1] == "**no**"]
    noise = sum(line[-1] == "within noise" for line in lines)
    print(
        f"  threads ({how}): ours slower at the default than at 1 thread on {len(slower)} of "
        f"{len(lines)} problems"
        + (f" (e.g. {slower[0]})" if slower else "")
        + (f", within {tables.NOT_SLOWER_NOISE:.0%} on {noise}" if noise else "")
    )


if __name__ == "__main__":
    raise SystemExit(main())
