"""Command line of the harness: ``python -m harness COMMAND [options]``.

Each experiment is one module registered in `EXPERIMENTS`. A module exposes
    HELP: str                                   one line shown by ``--help``
    add_arguments(parser) -> None               its options
    run(args) -> None                           the experiment; writes into ``args.out``
    plot(results, out_dir) -> list[Path]        figures from its results file (dict)
and its results file (``results.json``) stores ``"experiment": <its registry name>`` so that
``python -m harness plot RESULTS.json`` finds the plotter. Adding an experiment is one module and
one line here. ``--out`` defaults to ``runs/<experiment>/<timestamp>``.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from types import ModuleType

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


def default_out(experiment: str) -> Path:
    """``runs/<experiment>/<timestamp>``, relative to the working directory."""
    return Path("runs") / experiment / datetime.now().strftime("%Y%m%d-%H%M%S")


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
        sub.add_argument(
            "--out",
            type=Path,
            default=None,
            help="output directory; an existing run directory resumes that run (default: "
            f"{getattr(module, 'OUT_DEFAULT', f'runs/{name}/<timestamp>, a new one')})",
        )
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


class Interrupted(Exception):
    """Ctrl-C during an experiment; ``out`` holds its checkpoints."""

    def __init__(self, out: Path) -> None:
        super().__init__(str(out))
        self.out = out


def main(argv: Sequence[str] | None = None) -> int:
    """Parse ``argv`` (default: sys.argv[1:]) and run the command; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.handler(args)
    except (ValueError, FileNotFoundError) as err:
        print(f"{parser.prog} {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:
        command = " ".join(sys.argv[1:] if argv is None else argv)
        resume = command if "--out" in command else f"{command} --out {stop.out}"
        print(
            f"\ninterrupted: finished runs and checkpoints are kept in {stop.out}; resume with\n"
            f"  python -m harness {resume}",
            file=sys.stderr,
        )
        return 130
    return 0


def _run_experiment(args: argparse.Namespace) -> None:
    module = experiment_module(args.experiment)
    if args.out is None:
        chosen = getattr(module, "default_out", None)
        args.out = chosen(args) if chosen is not None else default_out(args.experiment)
    if args.out.exists() and not args.out.is_dir():
        raise ValueError(f"out: {str(args.out)!r} is a file, not a directory")
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        module.run(args)
    except KeyboardInterrupt:
        raise Interrupted(args.out) from None


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
