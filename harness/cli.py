"""Command line of the harness: ``python -m harness COMMAND [options]``.

Each experiment is one module registered in `EXPERIMENTS`. A module exposes
    HELP: str                                   one line shown by ``--help``
    add_arguments(parser) -> None               its options
    run(args) -> None                           the experiment; writes into ``args.out``
    plot(results, out_dir) -> list[Path]        figures from its results file (dict)
and its results file (``results.json``) stores ``"experiment": <its registry name>`` so that
``python -m harness plot RESULTS.json`` finds the plotter. Adding an experiment is one module and
one line here. Optional:
    settings(args) -> dict                      what determines its results (validated)
    RESUMES: bool                               the same ``--out`` resumes an interrupted run
    default_out(args) -> Path                   replaces the default ``--out`` below

``--out`` defaults to one stable directory per configuration, ``runs/<experiment>/<slug>-<hash>``
(`default_out`): the slug names the preset and the options given, the hash is of ``settings``
(or of the options), so repeating a command finds its own directory again and resumes it, and a
different configuration gets another one.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import os
import re
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

EXPERIMENTS: dict[str, str] = {
    "sparse-generalization": "harness.experiments.sparse_generalization",
    "render-samples": "harness.experiments.render_samples",
    "disentanglement": "harness.experiments.disentanglement",
    "meta-svm": "harness.experiments.meta_svm",
    "reproduce": "harness.experiments.reproduce",
}


def experiment_module(name: str) -> ModuleType:
    """The module of the experiment registered as ``name``."""
    if name not in EXPERIMENTS:
        raise ValueError(f"experiment: unknown {name!r}; registered: {sorted(EXPERIMENTS)}")
    return importlib.import_module(EXPERIMENTS[name])


EXECUTION_OPTIONS = frozenset(
    {"out", "handler", "experiment", "command", "workers", "threads", "device", "no_progress"}
    | {"list_runs", "run_index", "report_only"}
)
"""Options that say where and how a command runs, not what it computes: they do not change
its default ``--out`` (a job array's ``--run-index K`` and ``--list-runs`` share the sweep's)."""
NAMED_OPTIONS = ("preset", "protocol", "sweep", "scale")  # the slug starts with their values
SLUG_LENGTH = 60


def default_out(module: ModuleType, args: argparse.Namespace) -> Path:
    """``runs/<experiment>/<slug>-<hash>``, relative to the working directory: one directory
    per configuration. The slug is readable (the preset, sweep or protocol chosen, then the
    other options given, e.g. ``quick_lambda_steps=500``); the hash (8 hex digits) is of
    ``module.settings(args)`` when the module has it (the resolved settings: a preset changed
    in the code gets a new directory), else of the options but `EXECUTION_OPTIONS`."""
    options = {k: v for k, v in vars(args).items() if k not in EXECUTION_OPTIONS}
    parser = argparse.ArgumentParser(add_help=False)
    module.add_arguments(parser)
    defaults = vars(parser.parse_args([]))
    parts = [_token(options[k]) for k in NAMED_OPTIONS if k in options]
    for key, value in sorted(options.items()):
        if key not in NAMED_OPTIONS and (key not in defaults or defaults[key] != value):
            parts.append(_token(value, key))
    slug = "_".join(p for p in parts if p)[:SLUG_LENGTH].strip("-_.,=") or "default"
    settings = module.settings(args) if hasattr(module, "settings") else options
    record = json.dumps(settings, sort_keys=True, default=str)
    digest = hashlib.sha256(record.encode()).hexdigest()[:8]
    return Path("runs") / args.experiment / f"{slug}-{digest}"


def _token(value: Any, key: str | None = None) -> str:
    """``steps=500``, ``lams=0,0.3``, ``no-ridge-reference``: one option in a directory name."""
    name = "" if key is None else key.replace("_", "-")
    if isinstance(value, bool):
        return name if value else f"no-{name}"
    items = value if isinstance(value, (list, tuple)) else [value]
    text = ",".join(
        f"{v:g}" if isinstance(v, float) else Path(v).name if isinstance(v, Path) else str(v)
        for v in items
    )
    return re.sub(r"[^A-Za-z0-9.,+=_-]", "", f"{name}={text}" if name else text)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m harness``, one subcommand per experiment plus plot and demo."""
    parser = argparse.ArgumentParser(
        prog="python -m harness",
        description="Experiments of 'Synergies Between Disentanglement and Sparsity' (ICML 2023).",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in EXPERIMENTS:
        module = experiment_module(name)
        sub = commands.add_parser(name, help=module.HELP, description=module.HELP)
        sub.add_argument("--out", type=Path, default=None, help=_out_help(name, module))
        module.add_arguments(sub)
        sub.set_defaults(handler=_run_experiment, experiment=name)

    plot = commands.add_parser(
        "plot",
        help="redraw the figures of a results file",
        description="Redraw the figures of a results.json written by an experiment; the "
        "experiment is read from the file's 'experiment' key.",
    )
    plot.add_argument("results", type=Path, help="path of a results.json")
    plot.add_argument(
        "--out", type=Path, default=None, help="output directory (default: the file's directory)"
    )
    plot.set_defaults(handler=_plot)

    demo = commands.add_parser(
        "demo",
        help="inner-Lasso against least squares on 3D Shapes, ~2 min (harness.demo)",
        description="Train a conv encoder through an inner Lasso and through least squares "
        "(two processes), print MCC / R and draw the correlation heatmaps and traversals.",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of both runs (default: 0)")
    demo.add_argument(
        "--out", type=Path, default=None, help="output directory (default: runs/demo/<timestamp>)"
    )
    demo.set_defaults(handler=_demo)
    return parser


def _out_help(name: str, module: ModuleType) -> str:
    if hasattr(module, "OUT_DEFAULT"):
        where = f"default: {module.OUT_DEFAULT}"
    else:
        where = (
            f"default: runs/{name}/<preset and options given>-<hash of the settings>, one per "
            "configuration, so that the same command again finds it and another configuration "
            "gets its own"
        )
    if getattr(module, "RESUMES", False):
        return f"output directory; an existing run directory resumes that run ({where})"
    return f"output directory ({where}); this command keeps no checkpoint: run again, it redoes it"


class Interrupted(Exception):
    """Ctrl-C during an experiment; ``out`` holds its checkpoints when ``resumes``."""

    def __init__(self, out: Path, resumes: bool = True, defaulted: bool = False) -> None:
        super().__init__(str(out))
        self.out, self.resumes, self.defaulted = out, resumes, defaulted


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the command; returns the exit status."""
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        print(f"\n{resume_line(argv, stop)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"\n{parser.prog} {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


def resume_line(argv: Sequence[str], stop: Interrupted) -> str:
    """The one line Ctrl-C prints: where the run's state is, the command that resumes it."""
    command = f"python -m harness {shlex.join(argv)}"
    if not stop.resumes:
        return f"interrupted: this command keeps no checkpoint; run it again: {command}"
    given = any(a == "--out" or a.startswith("--out=") for a in argv)
    if not given and not stop.defaulted:
        command += f" --out {shlex.quote(str(stop.out))}"
    how = " (the same command: its default --out is that directory)" if stop.defaulted else ""
    return f"interrupted: checkpoints and finished runs are in {stop.out}; resume: {command}{how}"


def _run_experiment(args: argparse.Namespace) -> None:
    module = experiment_module(args.experiment)
    resumes = getattr(module, "RESUMES", False)
    defaulted = args.out is None
    if defaulted:
        chosen = getattr(module, "default_out", None)
        args.out = chosen(args) if chosen is not None else default_out(module, args)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"out: {str(args.out)!r} is a file, not a directory")
    if not getattr(args, "list_runs", False) and os.environ.get("RANK", "0") == "0":
        print(f"out: {args.out} ({_out_state(args.out, resumes)})")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        module.run(args)
    except KeyboardInterrupt:
        raise Interrupted(args.out, resumes, defaulted) from None


def _out_state(out: Path, resumes: bool) -> str:
    if not (out.is_dir() and any(out.iterdir())):
        return "new"
    if resumes:
        return "exists: finished work is kept, interrupted runs resume"
    return "exists: this command does not resume, its files are written again"


ROW_KEYS: dict[str, set[str]] = {
    "sparse-generalization": {"method", "n_samples", "r2_mean"},
    "disentanglement": {"method", "lam", "mcc"},
    "meta-svm": {"head", "lam1", "accuracy", "sparsity"},
}
"""Keys every row of an experiment's results file has (its figures read them)."""


def _plot(args: argparse.Namespace) -> None:
    path = args.results
    if path.is_dir():
        if not (path / "results.json").is_file():
            raise FileNotFoundError(f"results: {str(path)!r} is a directory without results.json")
        path = path / "results.json"
    try:
        results = json.loads(path.read_text())
    except FileNotFoundError as err:
        raise FileNotFoundError(f"results: no file {str(path)!r}") from err
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f"results: {str(path)!r} is not JSON ({err})") from err
    if not isinstance(results, dict) or "experiment" not in results:
        raise ValueError(f"results: {str(path)!r} has no 'experiment' key")
    experiment = results["experiment"]
    module = experiment_module(experiment)
    rows = results.get("rows")
    needed = ROW_KEYS.get(experiment, set())
    if isinstance(rows, list):
        if not rows:
            raise ValueError(f"results: {str(path)!r} has no rows to plot")
        missing = sorted(needed - set().union(*(set(row) for row in rows if isinstance(row, dict))))
        if missing:
            raise ValueError(
                f"results: the rows of {str(path)!r} lack {missing}, which the "
                f"{experiment!r} figures read: is its 'experiment' key right?"
            )
    out = args.out or path.parent
    if out.exists() and not out.is_dir():
        raise ValueError(f"out: {str(out)!r} is a file, not a directory")
    out.mkdir(parents=True, exist_ok=True)
    try:
        written = module.plot(results, out)
    except (KeyError, TypeError, IndexError) as err:
        raise ValueError(
            f"results: {str(path)!r} does not hold what the {experiment!r} figures read "
            f"({type(err).__name__}: {err}); was it written by another experiment or version?"
        ) from err
    if not written:
        raise ValueError(f"results: no figure could be drawn from {str(path)!r}")
    for figure in written:
        print(f"wrote {figure}")


def _demo(args: argparse.Namespace) -> None:
    try:
        demo = importlib.import_module("harness.demo")
    except ModuleNotFoundError as err:
        if err.name != "harness.demo":
            raise
        raise FileNotFoundError("demo: this checkout has no harness/demo.py") from err
    demo.main(args.out, seed=args.seed)
