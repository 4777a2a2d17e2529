"""``python -m harness reproduce [--scale smoke|quick|paper] [--only FIG ...] [--workers N]``.

Runs every requested figure into one directory (``--out``, default ``results/<scale>``),
resumably: Fig. 1 (Section 2) and Fig. 5 (Section 5.2) first (`harness.reproduce.studies`:
about a minute and 20 minutes at the quick scale on 2 cores), then the rows of Section 5.1's
figures (`harness.reproduce.specs`) in one shared sweep. A finished row or head is never rerun,
an interrupted run resumes from its checkpoint, and results are written as they finish so that
committing ``rows/`` and ``fig*/`` keeps the work. Then it writes, per figure, ``<fig>/``
``results.json`` and its figures, the traversals of Fig. 11–14, and ``REPRODUCTION.md`` with
every verdict. ``--list-runs`` / ``--run-index K`` split Section 5.1's training runs over a job
array, as in the ``disentanglement`` command (the two studies run without them).
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from harness.devices import device_argument
from harness.disentanglement.config import RunConfig
from harness.disentanglement.data import image_source
from harness.disentanglement.experiment import NAME as DISENTANGLEMENT
from harness.disentanglement.experiment import (
    add_sweep_arguments,
    check_sweep_arguments,
    list_runs,
    run_indexed,
)
from harness.disentanglement.figures import best_lambda, plot_rows, traversal_figure
from harness.disentanglement.sweep import estimate, plan, read_rows, run_sweep, run_units
from harness.distributed import DistContext, init_distributed, shutdown
from harness.eta import total_line
from harness.meta.experiment import estimate as meta_estimate
from harness.reproduce.claims import select
from harness.reproduce.report import write_report
from harness.reproduce.specs import DEFAULT_FIGURES, FIGURE_NAMES, SCALES, SWEEP_NAMES, figure
from harness.reproduce.studies import (
    STUDIES,
    fig1_done,
    fig1_section,
    fig5_section,
    meta_configs,
    run_fig1,
    run_fig5,
)
from harness.results import write_results

NAME = "reproduce"
OUT_DEFAULT = "results/<scale>"
RESUMES = True  # finished rows and heads are kept, interrupted runs resume
HELP = "the paper's Fig. 1, Section 5.1 / App. D.2 and Fig. 5 at one scale, then REPRODUCTION.md"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness reproduce``."""
    a = parser.add_argument
    a("--scale", choices=sorted(SCALES), default="quick", help="(default: quick)")
    a(
        "--only",
        nargs="+",
        choices=FIGURE_NAMES,
        default=None,
        help="figures to run (default: all but headline; the report shows every figure)",
    )
    a("--seeds", type=int, default=None, help="seeds 0..K-1 (default: the scale's)")
    add_sweep_arguments(parser)
    a("--report-only", action="store_true", help="only redraw figures and REPRODUCTION.md")
    a(
        "--device",
        default="cpu",
        type=device_argument,
        help="cpu (workers), or cuda / cuda:K (runs one by one)",
    )


def default_out(args: argparse.Namespace) -> Path:
    """``results/<scale>``: a stable directory, so that the same command resumes."""
    return Path("results") / args.scale


def rows_of(names: list[str], scale: str, seeds: int | None = None) -> dict[str, list[RunConfig]]:
    """The rows of each Section 5.1 figure in ``names``, in order (a row may belong to several
    figures); ``seeds`` replaces the scale's number of seeds (rows of the first seeds are the
    same rows). The studies (Fig. 1, Fig. 5) have no rows here."""
    settings = SCALES[scale] if seeds is None else replace(SCALES[scale], seeds=seeds)
    return {name: figure(name).rows(settings) for name in names if name in SWEEP_NAMES}


def all_rows(per_figure: dict[str, list[RunConfig]]) -> list[RunConfig]:
    """Every distinct row, in order of first appearance."""
    seen: dict[str, RunConfig] = {}
    for configs in per_figure.values():
        for config in configs:
            seen.setdefault(config.run_id, config)
    return list(seen.values())


def traversal_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The runs of Fig. 11–14: best inner-Lasso and unregularized at ρ = 0; best inner-Lasso
    and best inner-Ridge at ρ = 0.9 (best λ by test MCC, seed 0)."""
    picked = []
    for method, rho, lam in (
        ("inner-lasso", 0.0, None),
        ("inner-ridge", 0.0, 0.0),
        ("inner-lasso", 0.9, None),
        ("inner-ridge", 0.9, None),
    ):
        mine = [r for r in select(rows, method=method, rho=rho) if r["seed"] == 0]
        if lam is not None:
            mine = [r for r in mine if r["lam"] == lam]
        if mine:
            picked.append(best_lambda(mine, "test")[0])
    return picked


def report(
    out: Path,
    scale: str,
    per_figure: dict[str, list[RunConfig]],
    draw: bool = True,
    studies: tuple[str, ...] = (),
) -> Path:
    """Write every figure's results file and, with ``draw``, its images, and
    ``REPRODUCTION.md`` (without ``draw``: the claims table, cheap enough after every run)."""
    sections: dict[str, tuple[str, str, list[Path]]] = {}
    for name in studies:
        text, paths = fig1_section(out) if name == "fig1" else fig5_section(out, scale)
        sections[name] = (STUDIES[name], text, paths)
    figures: dict[str, tuple[str, list[Path]]] = {}
    for name, configs in per_figure.items():
        rows = read_rows(out, configs)
        fig_dir = out / name
        paths: list[Path] = []
        if rows:
            fig_dir.mkdir(parents=True, exist_ok=True)
            config = {"scale": scale, "figure": name, "runs": [c.run_id for c in configs]}
            # The rows/ files keep the full rows; a figure's file keeps what its plots use.
            slim = [
                {k: v for k, v in r.items() if k not in ("history", "traversals")} for r in rows
            ]
            write_results(fig_dir, DISENTANGLEMENT, config, rows=slim)
            if draw:
                paths = plot_rows(rows, fig_dir, traversals=False)
        figures[name] = (figure(name).title, paths)
    everything = read_rows(out, all_rows(per_figure))
    if "fig4" in per_figure and draw:
        picked = traversal_rows(everything)
        trav_dir = out / "traversals"
        trav_dir.mkdir(parents=True, exist_ok=True)
        paths = [traversal_figure(r, trav_dir) for r in picked]
        figures["traversals"] = ("Fig. 11–14: factors varied one at a time", paths)
    planned = [{"run_id": c.run_id, **c.to_dict()} for c in all_rows(per_figure)]
    return write_report(out, scale, SCALES[scale], everything, planned, figures, sections)


def run(args: argparse.Namespace) -> None:
    """Run the requested figures' rows, then write the figures and ``REPRODUCTION.md``."""
    names = list(args.only or DEFAULT_FIGURES)
    if args.seeds is not None and args.seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {args.seeds}")
    studies = tuple(n for n in names if n in STUDIES)
    per_figure = rows_of(names, args.scale, args.seeds)
    # The report covers every default figure (and the requested ones): ``--only`` chooses what
    # runs, not what the directory's REPRODUCTION.md shows; missing results show as pending.
    shown_names = list(dict.fromkeys([*DEFAULT_FIGURES, *names]))
    shown = rows_of(shown_names, args.scale, args.seeds)
    shown_studies = tuple(n for n in shown_names if n in STUDIES)
    configs = all_rows(per_figure)
    units = plan(configs)
    out = Path(args.out)
    data_dir = None if args.data_dir is None else str(args.data_dir)
    if args.list_runs:
        print(list_runs(configs, out))
        return
    check_sweep_arguments(args, units)
    if args.run_index is not None:
        run_indexed(units[args.run_index], out, data_dir, DistContext(), not args.no_progress)
        return
    if not args.report_only:
        print("\n".join(plan_lines(args, studies, units, out)))
    if not args.report_only and studies:
        if "fig1" in studies:
            run_fig1(out, args.scale, args.workers, not args.no_progress)
        if "fig5" in studies:
            run_fig5(out, args.scale, args.workers, args.device, not args.no_progress)
        report(out, args.scale, shown, draw=False, studies=shown_studies)
    if not args.report_only and units:
        sweeps = [n for n in names if n in SWEEP_NAMES]
        print(f"{len(configs)} rows of {', '.join(sweeps)} in {len(units)} training runs -> {out}")
        if args.device == "cpu":
            run_units(
                units,
                out,
                data_dir,
                args.workers,
                progress=not args.no_progress,
                on_unit=lambda: report(out, args.scale, shown, False, shown_studies),
            )
        else:
            _run_on_device(args, configs, out, data_dir)
    path = report(out, args.scale, shown, studies=shown_studies)
    for row in read_rows(out, configs) if args.device != "cpu" else []:
        if row["train_seconds"] > 0:
            speed = row["steps_done"] / row["train_seconds"]
            print(f"{row['run_id']}: MCC {row['mcc']:.3f}, {speed:.1f} steps/s")
    print(f"wrote {path}")


def plan_lines(
    args: argparse.Namespace, studies: Sequence[str], units: Sequence[Any], out: Path
) -> list[str]:
    """What the run will do and how long it should take, before it starts (`harness.eta`):
    each part's runs × steps × measured seconds per step, then the total."""
    lines, estimates = [], []
    ctx = DistContext(device=torch.device(args.device))
    if "fig1" in studies:
        done = fig1_done(out, args.scale)
        lines.append(
            "fig1: done"
            if done
            else "fig1: the Section 2 study (closed-form and Lasso fits, no training steps; "
            "35–70 s at the quick scale on 2 cores, not timed ahead)"
        )
    if "fig5" in studies:
        estimates.append(
            meta_estimate(meta_configs(args.scale), out / "fig5", ctx, None, args.workers)
        )
        lines.append(f"fig5: {estimates[-1].line()}")
    if units:
        data_dir = None if args.data_dir is None else str(args.data_dir)
        workers = args.workers if args.device == "cpu" else 1
        estimates.append(estimate(units, out, data_dir, workers, ctx))
        lines.append(f"Section 5.1: {estimates[-1].line()}")
    if len(estimates) > 1:
        lines.append(total_line(estimates))
    return lines


def _run_on_device(args, configs, out: Path, data_dir: str | None) -> None:
    """The runs one by one on ``args.device`` (e.g. the paper-scale run on a GPU)."""
    ctx = init_distributed(args.device)
    try:
        source = image_source(data_dir, configs[0].image_size, str(ctx.device))
        run_sweep(configs, out, source, ctx, progress=not args.no_progress)
    finally:
        shutdown(ctx)


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """A figure's results file is a disentanglement results file: redraw it as one."""
    return plot_rows(results["rows"], out_dir)


__all__ = ["HELP", "NAME", "OUT_DEFAULT", "RESUMES", "add_arguments", "default_out", "plot", "run"]
