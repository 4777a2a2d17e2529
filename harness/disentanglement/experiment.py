"""``disentanglement``: sparse multi-task learning disentangles (Section 5.1, Appendix D.2).

An encoder f_θ (`harness.models.ConvEncoder`) is trained through an inner layer of
`sparselayers` on batches of sparse regression tasks over 3D Shapes (procedural by default, the
real ``3dshapes.h5`` with ``--data-dir``), then scored by MCC, R and DCI on the latent grid.
``--sweep`` names a grid of rows (Fig. 4/6/15: lambda, correlation, noise; Fig. 8: supports;
Fig. 9: laplace; Fig. 10: outer); flags given explicitly override its axes and the preset's
settings. The rows are planned into training runs (`harness.disentanglement.sweep.plan`), run
in ``--workers`` processes of one torch thread each; ``--list-runs`` prints them and
``--run-index K`` runs the K-th alone (a job array's task). ``torchrun --nproc-per-node K -m
harness disentanglement ... --out DIR`` data-parallelizes each run over the tasks of a step.
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from harness.config import add_config_arguments, config_overrides
from harness.devices import add_threads_argument, device_argument
from harness.disentanglement.config import PRESETS, RunConfig, preset
from harness.disentanglement.data import image_source
from harness.disentanglement.figures import plot_rows
from harness.disentanglement.methods import METHODS
from harness.disentanglement.sweep import (
    SWEEPS,
    Unit,
    estimate,
    expand,
    plan,
    read_rows,
    run_sweep,
    run_unit,
    run_units,
    unit_status,
)
from harness.distributed import DistContext, init_distributed, shutdown
from harness.results import write_results

NAME = "disentanglement"
HELP = "Section 5.1 / Fig. 4, 6, 8-15: inner-Lasso vs inner-Ridge(+ICA) vs outer-Lasso on 3D Shapes"
SINGLE = {
    "methods": ("inner-lasso",),
    "lams": (0.1,),
    "rhos": (0.0,),
    "alphas": (1.0,),
    "weights": ("bernoulli",),
}
AXES = ("method", "lam", "rho", "alpha", "weights", "seed")  # set by the sweep, not by flags
RESUMES = True  # finished rows are kept, interrupted runs resume from their checkpoints


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of the experiment (run settings default to the preset's)."""
    a = parser.add_argument
    a("--preset", choices=sorted(PRESETS), default="quick", help="scale (default: quick)")
    a("--sweep", choices=sorted(SWEEPS), default="single", help="grid of runs (default: single)")
    a("--methods", nargs="+", choices=METHODS, default=None, help="methods (sweep's default)")
    a("--lams", nargs="+", type=float, default=None, help="λ/λ_max values (outer λ: absolute)")
    a("--rhos", nargs="+", type=float, default=None, help="latent correlations ρ")
    a("--alphas", nargs="+", type=float, default=None, help="latent noise levels α")
    a("--weights", nargs="+", default=None, help="task weights: bernoulli, block2/3/6, laplace")
    a("--seeds", type=int, default=1, help="number of seeds 0..K-1 (default 1)")
    add_sweep_arguments(parser)
    a("--device", default="cpu", type=device_argument, help="cpu, cuda or cuda:K")
    add_threads_argument(parser)
    settings = parser.add_argument_group("run settings (default: the quick preset's value)")
    add_config_arguments(settings, RunConfig, skip=AXES, defaults=preset("quick"))


def add_sweep_arguments(parser: argparse.ArgumentParser) -> None:
    """The options every sweep command shares: workers, job arrays, the data, progress."""
    a = parser.add_argument
    a("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: the cores)")
    a("--list-runs", action="store_true", help="print the sweep's training runs and exit")
    a("--run-index", type=int, default=None, help="run only the K-th training run (job arrays)")
    a("--data-dir", type=Path, default=None, help="directory of 3dshapes.h5 (default: procedural)")
    a("--no-progress", action="store_true", help="hide progress bars")


def check_sweep_arguments(args: argparse.Namespace, units: list[Unit]) -> None:
    """Refuse a bad ``--workers`` or ``--run-index`` before any work."""
    if args.run_index is not None and not 0 <= args.run_index < len(units):
        raise ValueError(f"run-index: {args.run_index} not in [0, {len(units)}) (see --list-runs)")
    if args.workers < 1:
        raise ValueError(f"workers must be >= 1, got {args.workers}")


def run_indexed(
    unit: Unit, out: Path, data_dir: str | None, ctx: DistContext, progress: bool
) -> None:
    """``--run-index``: train and score one unit, print its rows and how to collect."""
    source = image_source(data_dir, unit.config.image_size, str(ctx.device))
    for row in run_unit(unit, out, source, ctx, progress):
        print(f"{row['run_id']}: MCC {row['mcc']:.3f}, R {row['r']:.3f}")
    if ctx.is_main:
        print("collect: the same command without --run-index writes results and figures")


def configs_from_args(args: argparse.Namespace) -> list[RunConfig]:
    """The validated row list of the command line (sweep axes, then explicit flags)."""
    overrides = config_overrides(args, RunConfig, skip=AXES)
    if args.data_dir is not None and overrides.get("image_size", 64) not in (16, 32, 64):
        raise ValueError("image_size: with --data-dir it must divide 64 (16, 32 or 64)")
    base = preset(args.preset, **overrides)
    axes = {**SINGLE, **SWEEPS[args.sweep]}
    for key in axes:
        if getattr(args, key) is not None:
            axes[key] = tuple(getattr(args, key))
    if args.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {args.seeds}")
    return expand(base, seeds=tuple(range(args.seeds)), **axes)


def settings(args: argparse.Namespace) -> dict[str, Any]:
    """What the results depend on (`harness.cli.default_out` names the directory by it): every
    row's settings and the data."""
    data = None if args.data_dir is None else str(args.data_dir)
    return {"runs": [c.to_dict() for c in configs_from_args(args)], "data_dir": data}


def list_runs(configs: list[RunConfig], out: Path) -> str:
    """The training runs of a sweep, one line each: index, id, status, the rows it serves."""
    lines = []
    for k, unit in enumerate(plan(configs)):
        rows = ", ".join(c.method for c in unit.rows)
        lines.append(f"{k:>4}  {unit.run_id:<52} {unit_status(out, unit):<22} rows: {rows}")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> None:
    """Run the sweep into ``args.out`` and write ``results.json`` and the figures."""
    configs = configs_from_args(args)  # validate every flag before any work
    units = plan(configs)
    out = Path(args.out)
    if args.list_runs:
        print(list_runs(configs, out))
        return
    check_sweep_arguments(args, units)
    torch.set_num_threads(args.threads)
    ctx = init_distributed(args.device)
    data_dir = None if args.data_dir is None else str(args.data_dir)
    try:
        out = _shared_out(out, ctx)
        config_doc = {
            "preset": args.preset,
            "sweep": args.sweep,
            "runs": [c.to_dict() for c in configs],
            "data": "procedural" if args.data_dir is None else str(args.data_dir),
            "device": str(ctx.device),
            "world_size": ctx.world_size,
        }
        start = time.perf_counter()

        def write(rows: list[dict[str, Any]] | None = None) -> None:
            rows = read_rows(out, configs) if rows is None else rows
            write_results(out, NAME, config_doc, rows=rows, seconds=time.perf_counter() - start)

        if args.run_index is not None:
            run_indexed(units[args.run_index], out, data_dir, ctx, not args.no_progress)
            return
        here = ctx.distributed or ctx.device.type != "cpu" or args.workers == 1
        if ctx.is_main:
            print(estimate(units, out, data_dir, 1 if here else args.workers, ctx).line())
        if here:
            source = image_source(data_dir, configs[0].image_size, str(ctx.device))
            rows = run_sweep(configs, out, source, ctx, not args.no_progress, on_row=write)
        else:
            run_units(units, out, data_dir, args.workers, not args.no_progress, on_unit=write)
            rows = read_rows(out, configs)
        if ctx.is_main:
            write(rows)
            print(summary_table(rows))
            if len(rows) < len(configs):
                print(f"{len(configs) - len(rows)} rows are not finished (see --list-runs)")
            for path in plot_rows(rows, out):
                print(f"wrote {path}")
    finally:
        shutdown(ctx)


def _shared_out(out: Path, ctx: DistContext) -> Path:
    """Rank 0's output directory on every rank (their default timestamps may differ)."""
    if not ctx.distributed:
        return out
    box = [str(out)]
    dist.broadcast_object_list(box, src=0)
    path = Path(box[0])
    path.mkdir(parents=True, exist_ok=True)
    return path


def summary_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table: method, λ, ρ, α, weights, seed, MCC, R, DCI-D, best-validation step."""
    head = f"{'method':<16}{'lam':>7}{'rho':>6}{'alpha':>6} {'weights':<10}{'seed':>4}"
    head += f"{'MCC':>7}{'R':>7}{'DCI':>7}{'best step':>10}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['method']:<16}{r['lam']:>7g}{r['rho']:>6g}{r['alpha']:>6g} {r['weights']:<10}"
            f"{r['seed']:>4}{r['mcc']:>7.3f}{r['r']:>7.3f}{r['dci_d']:>7.3f}{r['best_step']:>10}"
        )
    lines.append(
        "MCC, R, DCI: on the latent grid (the progress bar's val-MCC is on samples of p(z)); "
        "best step: the validation step whose encoder is kept and scored"
    )
    return "\n".join(lines)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """The figures of a results file (see `harness.disentanglement.figures`)."""
    return plot_rows(results["rows"], out_dir)


__all__ = [
    "HELP",
    "NAME",
    "RESUMES",
    "add_arguments",
    "add_sweep_arguments",
    "check_sweep_arguments",
    "configs_from_args",
    "list_runs",
    "plot",
    "run",
    "run_indexed",
    "settings",
    "summary_table",
]
