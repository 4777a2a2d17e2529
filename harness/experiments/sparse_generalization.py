"""``sparse-generalization``: the Section 2 study (Figure 1, Appendix D.1) from the command line.

The study is `harness.section2`: ``--protocol`` picks the settings (``published``, the default,
reproduces the authors' published Figure 1; ``text`` follows Appendix D.1 as written), one flag
per `StudyConfig` field overrides them (``--seeds``, ``--train-sizes``, ``--cv-rule`` ...; see
`harness.config`), plus how to run it (``--workers``, ``--threads``, ``--no-progress``). The
study's docstring (`harness.section2.study`) records how the protocol was found.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

from harness.config import add_config_arguments, config_overrides, config_to_dict
from harness.devices import add_threads_argument
from harness.results import write_results
from harness.section2.config import PROTOCOLS, StudyConfig, protocol
from harness.section2.figures import figure1, summary_table
from harness.section2.study import run_study

NAME = "sparse-generalization"
HELP = "Section 2 / Fig. 1: Lasso vs Ridge on disentangled vs entangled features (D.1)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness sparse-generalization``."""
    parser.add_argument(
        "--protocol",
        choices=sorted(PROTOCOLS),
        default="published",
        help="published: Σ = I, unit-norm weights (matches the published Fig. 1); text: "
        "Σ_ij = 0.9^|i-j|, N(0, I) weights, as Appendix D.1 states (default: published)",
    )
    add_config_arguments(parser, StudyConfig)
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="processes running (seed, n) cells in parallel (default: min(2, CPU count))",
    )
    add_threads_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the results depend on (`harness.cli.default_out` names the directory by it)."""
    config = protocol(args.protocol, **config_overrides(args, StudyConfig))
    return {"protocol": args.protocol, **config_to_dict(config)}


def run(args: argparse.Namespace) -> None:
    """Run the study and write ``results.json`` and ``figure1.png`` into ``args.out``."""
    config = protocol(args.protocol, **config_overrides(args, StudyConfig))
    results = run_study(
        config, progress=not args.no_progress, workers=args.workers, threads=args.threads
    )
    record = {"protocol": args.protocol, **config_to_dict(config)}
    runner = {"workers": args.workers, "threads": args.threads}
    path = write_results(Path(args.out), NAME, record, **runner, **results)
    print(f"wrote {path} ({results['runtime_s']:.0f} s)")
    print(summary_table(results["rows"]))
    for figure in plot(results | {"config": record}, Path(args.out)):
        print(f"wrote {figure}")


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Figure 1 of a results file (`harness.section2.figures.figure1`)."""
    return figure1(results, out_dir)
