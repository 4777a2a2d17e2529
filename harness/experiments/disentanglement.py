"""``disentanglement``: sparse multi-task learning disentangles (Section 5.1, Appendix D.2).

An encoder f_θ (`harness.models.ConvEncoder`) is trained through an inner layer of
`sparselayers` on batches of sparse regression tasks over 3D Shapes (procedural by default, the
real ``3dshapes.h5`` with ``--data-dir``), then scored by MCC, R and DCI on the latent grid.
``--sweep`` names a grid of runs (Fig. 4/6/15: lambda, correlation, noise; Fig. 8: supports;
Fig. 9: laplace; Fig. 10: outer); flags given explicitly override its axes. Launch with
``torchrun --nproc-per-node K -m harness disentanglement ... --out DIR`` for data parallelism
over the tasks of each step.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist

from harness.disentanglement.config import PRESETS, RunConfig, preset
from harness.disentanglement.data import image_source
from harness.disentanglement.figures import plot_rows
from harness.disentanglement.methods import METHODS
from harness.disentanglement.sweep import SWEEPS, expand, run_sweep
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


def _eval_points(text: str) -> int | None:
    if text == "full":
        return None
    try:
        return int(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected an integer or 'full', got {text!r}") from err


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
    for name, kind in [
        ("steps", int),
        ("num-tasks", int),
        ("n-samples", int),
        ("lr", float),
        ("image-size", int),
        ("val-every", int),
        ("val-batches", int),
        ("patience", int),
        ("checkpoint-every", int),
        ("tol", float),
    ]:
        a(f"--{name}", type=kind, default=None, help="override the preset's value")
    a("--eval-points", type=_eval_points, default=argparse.SUPPRESS, help="N or 'full'")
    a("--backward", choices=("implicit", "unroll"), default="implicit")
    a("--device", default="cpu", help="cpu, cuda or cuda:K")
    a("--data-dir", type=Path, default=None, help="directory of 3dshapes.h5 (default: procedural)")
    a("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    a("--no-progress", action="store_true", help="hide progress bars")


def configs_from_args(args: argparse.Namespace) -> list[RunConfig]:
    """The validated run list of the command line (sweep axes, then explicit flags)."""
    overrides: dict[str, Any] = {"backward": args.backward}
    for key in ("steps", "num_tasks", "n_samples", "lr", "image_size", "val_every"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    for key in ("val_batches", "patience", "checkpoint_every", "tol"):
        if getattr(args, key) is not None:
            overrides[key] = getattr(args, key)
    if hasattr(args, "eval_points"):
        overrides["eval_points"] = args.eval_points
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


def run(args: argparse.Namespace) -> None:
    """Run the sweep into ``args.out`` and write ``results.json`` and the figures."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    configs = configs_from_args(args)  # validate every flag before any work
    ctx = init_distributed(args.device)
    try:
        out = _shared_out(Path(args.out), ctx)
        source = image_source(
            None if args.data_dir is None else str(args.data_dir),
            configs[0].image_size,
            str(ctx.device),
        )
        config_doc = {
            "preset": args.preset,
            "sweep": args.sweep,
            "runs": [c.to_dict() for c in configs],
            "data": "procedural" if args.data_dir is None else str(args.data_dir),
            "device": str(ctx.device),
            "world_size": ctx.world_size,
        }
        start = time.perf_counter()

        def write(rows: list[dict[str, Any]]) -> None:
            write_results(out, NAME, config_doc, rows=rows, seconds=time.perf_counter() - start)

        rows = run_sweep(configs, out, source, ctx, not args.no_progress, on_row=write)
        if ctx.is_main:
            write(rows)
            print(summary_table(rows))
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
    """A plain-text table: method, λ, ρ, α, weights, seed, MCC, R, DCI-D, steps."""
    head = f"{'method':<16}{'lam':>7}{'rho':>6}{'alpha':>6} {'weights':<10}{'seed':>4}"
    head += f"{'MCC':>7}{'R':>7}{'DCI':>7}{'steps':>7}"
    lines = [head]
    for r in rows:
        lines.append(
            f"{r['method']:<16}{r['lam']:>7g}{r['rho']:>6g}{r['alpha']:>6g} {r['weights']:<10}"
            f"{r['seed']:>4}{r['mcc']:>7.3f}{r['r']:>7.3f}{r['dci_d']:>7.3f}{r['best_step']:>7}"
        )
    return "\n".join(lines)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """The figures of a results file (see `harness.disentanglement.figures`)."""
    return plot_rows(results["rows"], out_dir)


__all__ = ["HELP", "NAME", "add_arguments", "configs_from_args", "plot", "run"]
