"""``python -m benchmarks.report``: run the quick profile through pytest-benchmark and write
``benchmarks/results/report.md`` and the scaling plots (``make bench``).

Options: ``--json PATH`` renders an existing ``--benchmark-json`` file instead of running;
``--profile`` picks the profile; ``--out`` the output folder.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from benchmarks.cases import suites
from benchmarks.profiles import PROFILE_ENV, PROFILES
from benchmarks.report_text import render
from benchmarks.results_io import load_rows

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


def run_pytest(json_path: Path, profile: str) -> int:
    """Run the pytest-benchmark suite in a subprocess; returns pytest's exit code."""
    env = dict(os.environ, **{PROFILE_ENV: profile})
    command = [
        sys.executable,
        "-m",
        "pytest",
        "benchmarks",
        "--benchmark-only",
        f"--benchmark-json={json_path}",
        "--benchmark-columns=median,iqr,min,rounds",
        "-q",
        "-p",
        "no:cacheprovider",
    ]
    print("running:", " ".join(command), f"({PROFILE_ENV}={profile})", flush=True)
    return subprocess.call(command, cwd=ROOT, env=env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", type=Path, help="render this benchmark JSON, do not run")
    parser.add_argument("--profile", default=os.environ.get(PROFILE_ENV, "quick"))
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    code = 0
    json_path = args.json
    if json_path is None:
        json_path = args.out / "benchmark.json"
        code = run_pytest(json_path, args.profile)
        if not json_path.exists():
            print(f"pytest wrote no {json_path} (exit code {code})", file=sys.stderr)
            return code or 1
    rows, header = load_rows(json_path)
    profile = PROFILES.get(header["profile"], PROFILES[args.profile])
    report = render(rows, header, suites(profile), args.out)
    path = args.out / "report.md"
    path.write_text(report)
    print(f"wrote {path}")
    return code


if __name__ == "__main__":
    raise SystemExit(main())
