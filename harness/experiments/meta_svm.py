"""``meta-svm``: sparse meta-learning with group-lasso SVM heads (paper Section 5.2, Fig. 5).

For each lam1 of ``--lam1`` (0 = MetaOptNet's dense SVM) a meta-learner is trained with the chosen
preset (``runs in OUT/<head>-lam1_<value>/``, checkpointed, resumed if a checkpoint is there),
then evaluated on a fixed set of meta-test episodes: accuracy +- 95% CI, average fraction of zero
feature columns, and per-feature usage. Rank 0 writes ``results.json`` and the two panels of
Fig. 5. Multi-process: ``torchrun --nproc-per-node P -m harness meta-svm ...``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import torch

from harness.data.factors import shapes3d_grid
from harness.data.fewshot import ClassImages, EpisodeSampler, pickle_split
from harness.data.fewshot_procedural import ProceduralFewShot
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig
from harness.distributed import DistContext, init_distributed, shutdown
from harness.meta.evaluate import evaluate
from harness.meta.figures import accuracy_vs_sparsity, feature_usage
from harness.meta.heads import HeadConfig
from harness.meta.presets import PRESETS, Preset, preset
from harness.meta.train import build_model, train
from harness.results import write_results

NAME = "meta-svm"
HELP = "meta-learning with group-lasso SVM heads: accuracy vs sparsity sweep over lam1 (Fig. 5)"
DATASETS = ("procedural", "miniimagenet", "cifar-fs")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness meta-svm``."""
    parser.add_argument("--dataset", choices=DATASETS, default="procedural")
    parser.add_argument(
        "--data-dir", type=Path, default=None, help="directory of the pickles (real datasets)"
    )
    parser.add_argument("--preset", choices=sorted(PRESETS), default="quick")
    parser.add_argument("--head", choices=("svm", "ridge"), default="svm")
    parser.add_argument(
        "--lam1",
        type=float,
        nargs="+",
        default=[0.0],
        help="group-lasso weights to sweep (0 = dense SVM; features are L2-normalised)",
    )
    parser.add_argument("--lam2", type=float, default=1.0, help="ridge weight of the head")
    parser.add_argument("--tol", type=float, default=1e-4, help="inner duality-gap tolerance")
    parser.add_argument("--max-iter", type=int, default=300, help="inner iteration budget")
    parser.add_argument("--steps", type=int, default=None, help="override the preset's steps")
    parser.add_argument("--image-size", type=int, default=None, help="override (procedural)")
    parser.add_argument("--eval-episodes", type=int, default=None, help="override test episodes")
    parser.add_argument("--val-every", type=int, default=None, help="override validation period")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:K")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads per process (1 is several times faster on a busy 2-core machine)",
    )
    parser.add_argument("--no-progress", action="store_true", help="hide progress bars")


def _splits(args: argparse.Namespace, p: Preset) -> dict[str, ClassImages]:
    if args.dataset == "procedural":
        renderer = ProceduralShapes(
            shapes3d_grid(), SceneConfig(image_size=p.image_size, supersample=1)
        )
        return {s: ProceduralFewShot(s, renderer=renderer) for s in ("train", "val", "test")}
    if args.data_dir is None:
        raise ValueError(f"data-dir: required with --dataset {args.dataset}")
    return {s: pickle_split(args.data_dir, args.dataset, s) for s in ("train", "val", "test")}


def run(args: argparse.Namespace) -> None:
    """Train and evaluate one head per lam1; rank 0 writes results.json and figures."""
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    p = preset(
        args.preset,
        steps=args.steps,
        image_size=args.image_size,
        eval_episodes=args.eval_episodes,
        val_every=args.val_every,
    )
    ctx = init_distributed(args.device)
    try:
        splits = _splits(args, p)
        rows = [_run_one(args, p, lam1, splits, ctx) for lam1 in args.lam1]
        if ctx.is_main:
            config = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()}
            config.pop("handler", None)
            config["preset_values"] = p.__dict__
            config["world_size"] = ctx.world_size
            path = write_results(Path(args.out), NAME, config, rows=rows)
            print(f"wrote {path}")
            for figure in plot({"rows": rows}, Path(args.out)):
                print(f"wrote {figure}")
    finally:
        shutdown(ctx)


def _run_one(
    args: argparse.Namespace,
    p: Preset,
    lam1: float,
    splits: dict[str, ClassImages],
    ctx: DistContext,
) -> dict[str, Any]:
    if args.head == "ridge" and lam1 != 0:
        raise ValueError("lam1: the ridge head takes only --lam1 0")
    head = HeadConfig(args.head, lam1, args.lam2, args.tol, args.max_iter)
    model = build_model(p, head, args.seed)
    seed = args.seed
    train_sampler = EpisodeSampler(splits["train"], p.way, p.train_shot, p.query, seed)
    val_sampler = EpisodeSampler(splits["val"], p.way, p.test_shot, p.query, seed + 1)
    test_sampler = EpisodeSampler(splits["test"], p.way, p.test_shot, p.eval_query, seed + 2)
    run_dir = Path(args.out) / f"{args.head}-lam1_{lam1:g}"
    started = time.perf_counter()
    history = train(
        model,
        p,
        train_sampler,
        val_sampler,
        run_dir / "checkpoint.pt",
        ctx,
        progress=not args.no_progress,
    )
    row: dict[str, Any] = {"head": args.head, "lam1": lam1, "lam2": args.lam2}
    if ctx.is_main:
        t0 = time.perf_counter()
        res = evaluate(model, test_sampler, p.eval_episodes, p.episodes_per_batch)
        print(
            f"{args.head} lam1={lam1:g}: test accuracy {100 * res.accuracy:.2f} "
            f"+- {100 * res.ci95:.2f} %, sparsity {res.sparsity:.3f}, "
            f"train {history.seconds:.0f} s"
        )
        row.update(res.__dict__)
        row["eval_seconds"] = time.perf_counter() - t0
    row.update(
        train_seconds=history.seconds,
        wall_seconds=time.perf_counter() - started,
        history=history.__dict__,
    )
    return row


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Fig. 5 right (accuracy vs sparsity) and left (feature usage) from a results file."""
    rows = [r for r in results["rows"] if "accuracy" in r]
    out_dir = Path(out_dir)
    return [
        accuracy_vs_sparsity(rows, out_dir / "fig5_right_accuracy_vs_sparsity.png"),
        feature_usage(rows, out_dir / "fig5_left_feature_usage.png"),
    ]
