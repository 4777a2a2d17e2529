"""``meta-svm``: sparse meta-learning with group-lasso SVM heads (paper Section 5.2, Fig. 5).

The experiment is `harness.meta`: ``--preset`` picks a `MetaConfig` (both presets sweep the
paper's grid of λ1 / λ1_max and train the ridge head beside it), one flag per field overrides it
(``--lam1``, ``--steps``, ``--image-size`` ...; see `harness.config`), and ``--data-dir``,
``--device``, ``--workers``, ``--threads``, ``--no-progress`` say where and how it runs. The
sweep resumes: the same command again skips finished heads. Rank 0 writes ``results.json`` and
the two panels of Fig. 5. Multi-process: ``torchrun --nproc-per-node P -m harness meta-svm ...``.
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

import torch

from harness.config import add_config_arguments, config_overrides, config_to_dict
from harness.devices import add_threads_argument, device_argument
from harness.distributed import init_distributed, shutdown
from harness.meta.config import PRESETS, MetaConfig, preset
from harness.meta.experiment import estimate, run_sweep
from harness.meta.figures import figure5
from harness.results import write_results

NAME = "meta-svm"
HELP = (
    "meta-learning with group-lasso SVM heads: accuracy vs sparsity over lam1 = λ1 / λ1_max, "
    "with the dense SVM and the ridge head as references (Fig. 5)"
)
RESUMES = True  # finished heads are kept, interrupted ones resume from their checkpoints


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness meta-svm`` (field defaults shown: the quick preset's)."""
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    add_config_arguments(parser, MetaConfig, skip=("lr_drops",), defaults=preset("quick"))
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="directory of the pickles (real datasets)"
    )
    parser.add_argument("--device", default="cpu", type=device_argument, help="cpu, cuda or cuda:K")
    parser.add_argument(
        "--workers",
        type=int,
        default=min(2, os.cpu_count() or 1),
        help="CPU: heads trained at once, one process and one torch thread each "
        "(default: min(2, CPU count); 1 trains them here, one by one)",
    )
    add_threads_argument(parser)
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the results depend on (`harness.cli.default_out` names the directory by it)."""
    config = preset(args.preset, **config_overrides(args, MetaConfig))
    data_dir = None if args.data_dir is None else str(args.data_dir)
    return {**config_to_dict(config), "data_dir": data_dir}


def run(args: argparse.Namespace) -> None:
    """Train and evaluate one head per lam1; rank 0 writes results.json and figures."""
    if args.workers < 1:
        raise ValueError(f"workers must be >= 1, got {args.workers}")
    torch.set_num_threads(args.threads)
    config = preset(args.preset, **config_overrides(args, MetaConfig))
    ctx = init_distributed(args.device)
    try:
        if ctx.is_main:
            print(estimate([config], Path(args.out), ctx, args.data_dir, args.workers).line())
        rows = run_sweep(
            config, Path(args.out), ctx, args.data_dir, not args.no_progress, args.workers
        )
        if ctx.is_main:
            data_dir = None if args.data_dir is None else str(args.data_dir)
            record = {"preset": args.preset, **config_to_dict(config), "data_dir": data_dir}
            record.update(device=args.device, world_size=ctx.world_size)
            print(f"wrote {write_results(Path(args.out), NAME, record, rows=rows)}")
            for figure in plot({"rows": rows, "config": record}, Path(args.out)):
                print(f"wrote {figure}")
    finally:
        shutdown(ctx)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Fig. 5 right (accuracy vs sparsity) and left (feature usage) from a results file."""
    return figure5(results, out_dir)
