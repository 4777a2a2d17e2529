"""Training throughput: one optimizer step of each experiment and the sparse layer's share of it.

Every step is assembled from the harness's own constructors and loss code, so that what is timed
is what ``python -m harness`` trains:

- ``disentanglement``: the encoder f_θ (`harness.models.ConvEncoder`, per-task batch norm) and
  the inner-Lasso `harness.disentanglement.methods.TaskRegression` (λ = 0.1 λ_max, implicit
  backward, the harness's tolerance), Adam; images and targets from the harness's task sampler
  over the procedural 3D Shapes renderer (paper Section 5.1: T = 8 tasks of n = 50, m = 6).
- ``meta-conv4`` / ``meta-resnet12``: `harness.meta.train.build_model` (backbone + `MetaHead`,
  the group-lasso SVM head, λ2 = 1) with λ1 = 0 (the dense Crammer–Singer head) and
  λ1 = 0.1 λ1_max, SGD with Nesterov momentum and the label-smoothed cross-entropy of
  `harness.meta.train`; 5-way 5-shot episodes with the harness's 6 queries per class from its
  procedural few-shot renderer (paper Section 5.2). The ResNet-12's DropBlock schedule is set
  half-way (keep rate 0.95), as in the middle of a run.

Sizes (``--size``): ``paper`` (the default on CUDA) is the shapes above with 8 episodes per
batch and 84×84 images for both backbones (Conv4 → m = 1,600 features, ResNet-12 → 16,000);
``reduced`` (the default on CPU, where a paper-size ResNet-12 step takes minutes) keeps the
disentanglement step and the Conv4 head (m = 1,600) at the paper's shapes but draws 1 episode
per batch, and feeds the ResNet-12 32×32 images (m = 2,560); ``smoke`` (``--smoke``) is tiny
and uses random images, to check the code in seconds.

What is timed. The *step* is the wall time of forward, loss, backward and optimizer step
(``zero_grad`` included), with ``torch.cuda.synchronize()`` before and after on CUDA. The
*layer* is the inner module: `GroupLassoRegression` for disentanglement, `MetaHead` for
meta-learning (feature normalisation, λ1_max when λ1 > 0, the SVM dual solve and the query
logits — the head as a user of the harness sees it). Its forward is the span between a forward
pre-hook and a forward hook; its backward the span between the gradient of its output becoming
available (a tensor hook on the output) and the gradient of its inputs being complete (tensor
hooks on the inputs, the last one to fire) — the autograd engine runs nothing else of the step
in between, since the backbone's backward needs those input gradients. On CPU the marks are
``time.perf_counter()``; on CUDA they are CUDA events on the current stream (no extra
synchronization inside the step), so the layer's spans include the device's idle time while
the solver waits for the host. Each configuration runs ``--warmup`` untimed steps, then
``--steps`` timed ones; the report gives min and median of the step and of the layer's forward
and backward, and the share (median over steps of layer time / step time). Batches are drawn
before timing (rendering is not timed) and cycled.

Usage::

    python -m benchmarks.training_step                     # CPU: reduced sizes, minutes
    python -m benchmarks.training_step --device cuda       # paper sizes
    python -m benchmarks.training_step --smoke             # seconds, random images
    python -m benchmarks.training_step --only disentanglement --steps 10 --out /tmp/ts

It writes ``<out>.md`` (a Markdown table) and ``<out>.json`` (every measurement), by default
``benchmarks/results/training_step.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as nnf
from torch import nn

import sparselayers as sl

DEFAULT_OUT = Path("benchmarks/results/training_step")
EXPERIMENTS = ("disentanglement", "meta-conv4", "meta-resnet12")
DISENTANGLEMENT_NAME = "disentanglement: encoder + inner Lasso"
SPARSE_LAM1 = 0.1  # λ1 / λ1_max of the sparse head (relative, as the harness's Fig. 5 grid)


@dataclass(frozen=True)
class Size:
    """Shapes of one size of the benchmark.

    Attributes:
        name: ``"paper"``, ``"reduced"`` or ``"smoke"``.
        tasks, samples, dis_image: disentanglement batch (T tasks of n samples) and image side.
        episodes, way, shot, query: meta-learning batch (episodes of way-way shot-shot).
        conv4_image, resnet_image: image side fed to each backbone.
        procedural: images from the harness's renderers (else random tensors).
        resnet_channels: ResNet-12 widths (the smoke size narrows them).
        experiments: what runs by default. The smoke size leaves out the Conv4: at
            initialisation its features are nonnegative and nearly collinear, and the sparse
            head's λ1_max solve then takes seconds to minutes even at tiny sizes (the ResNet-12
            runs the same code).
    """

    name: str
    tasks: int
    samples: int
    dis_image: int
    episodes: int
    way: int
    shot: int
    query: int
    conv4_image: int
    resnet_image: int
    procedural: bool = True
    resnet_channels: tuple[int, int, int, int] = (64, 160, 320, 640)
    experiments: tuple[str, ...] = EXPERIMENTS


_PAPER_META = {"way": 5, "shot": 5, "query": 6}
SIZES: dict[str, Size] = {
    "paper": Size(
        "paper", tasks=8, samples=50, dis_image=64, episodes=8, **_PAPER_META,
        conv4_image=84, resnet_image=84,
    ),
    "reduced": Size(
        "reduced", tasks=8, samples=50, dis_image=64, episodes=1, **_PAPER_META,
        conv4_image=84, resnet_image=32,
    ),
    "smoke": Size(
        "smoke", tasks=2, samples=12, dis_image=16, episodes=1, way=3, shot=2, query=1,
        conv4_image=16, resnet_image=16, procedural=False, resnet_channels=(8, 8, 8, 8),
        experiments=("disentanglement", "meta-resnet12"),
    ),
}  # fmt: skip


class SpanClock:
    """Time marks of one step: ``perf_counter`` on CPU, CUDA events (no sync) on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"
        self.marks: dict[str, list[Any]] = {}

    def reset(self) -> None:
        self.marks = {}

    def mark(self, name: str) -> None:
        if self.cuda:
            event = torch.cuda.Event(enable_timing=True)
            event.record()
            self.marks.setdefault(name, []).append(event)
        else:
            self.marks.setdefault(name, []).append(time.perf_counter())

    def span(self, start: str, end: str) -> float:
        """Seconds from the first ``start`` mark to the last ``end`` mark (0 if either is
        missing); call after the step is complete (on CUDA, after a synchronize)."""
        if start not in self.marks or end not in self.marks:
            return 0.0
        first, last = self.marks[start][0], self.marks[end][-1]
        if self.cuda:
            return first.elapsed_time(last) / 1e3
        return last - first


def instrument(layer: nn.Module, clock: SpanClock) -> None:
    """Mark the forward and backward of ``layer`` on ``clock`` (see the module docstring)."""

    def before(module: nn.Module, args: tuple[Any, ...]) -> None:
        clock.mark("fwd_start")
        for arg in args:
            if isinstance(arg, torch.Tensor) and arg.requires_grad:
                arg.register_hook(lambda grad: clock.mark("bwd_end"))

    def after(module: nn.Module, args: tuple[Any, ...], output: Any) -> None:
        clock.mark("fwd_end")
        out = getattr(output, "logits", output)  # MetaHead returns a HeadOutput
        if isinstance(out, torch.Tensor) and out.requires_grad:
            out.register_hook(lambda grad: clock.mark("bwd_start"))

    layer.register_forward_pre_hook(before)
    layer.register_forward_hook(after)


@dataclass
class Workload:
    """A configuration ready to step: ``step(i)`` runs training step i; ``layer`` is timed."""

    name: str
    layer: nn.Module
    step: Callable[[int], None]
    info: dict[str, Any]
    probe: Callable[[], dict[str, float]] | None = None


def disentanglement(size: Size, device: torch.device) -> Workload:
    """Encoder + inner Lasso step of `harness.disentanglement.train.train`."""
    from harness.data.sampler import TaskBatch
    from harness.disentanglement.config import preset
    from harness.disentanglement.data import image_source
    from harness.disentanglement.methods import TaskRegression
    from harness.disentanglement.train import samplers
    from harness.models import ConvEncoder

    config = preset(
        "paper", image_size=size.dis_image, num_tasks=size.tasks, n_samples=size.samples
    )
    latent_dim = 6
    torch.manual_seed(config.seed)
    if size.procedural:
        source = image_source(None, config.image_size)
        latents, sampler, _ = samplers(config, source, device)
        latent_dim = latents.dim
        batches = [sampler.sample(i) for i in range(3)]
    else:
        g = torch.Generator().manual_seed(0)
        shape = (config.num_tasks, config.n_samples)
        batches = [
            TaskBatch(
                images=torch.rand(*shape, 3, size.dis_image, size.dis_image, generator=g),
                latents=torch.empty(0),
                targets=torch.randn(*shape, generator=g),
                weights=torch.empty(0),
                indices=torch.empty(0),
            )
            for _ in range(3)
        ]
    inputs = [(b.images.to(device), b.targets.to(device)) for b in batches]
    encoder = ConvEncoder(config.image_size, latent_dim).to(device)
    head = TaskRegression(config.method_config())
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    encoder.train()

    def step(i: int) -> None:
        images, targets = inputs[i % len(inputs)]
        loss, _ = head(encoder(images), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    info = {
        "tasks": config.num_tasks,
        "n": config.n_samples,
        "m": latent_dim,
        "image": config.image_size,
        "lam": f"{config.lam:g} λ_max",
        "backward": config.backward,
        "tol": config.tol,
    }
    return Workload(DISENTANGLEMENT_NAME, head.inner, step, info)


def meta(backbone_name: str, lam1: float, size: Size, device: torch.device) -> Workload:
    """Backbone + group-lasso SVM head step of `harness.meta.train.train`."""
    from harness.data.fewshot import EpisodeBatch
    from harness.meta.config import preset
    from harness.meta.heads import MetaHead
    from harness.meta.model import MetaLearner
    from harness.meta.train import build_model, query_loss, sgd
    from harness.models.backbones import ResNet12

    image = size.conv4_image if backbone_name == "conv4" else size.resnet_image
    config = preset(
        "paper",
        backbone=backbone_name,
        image_size=image,
        way=size.way,
        train_shot=size.shot,
        query=size.query,
        episodes_per_batch=size.episodes,
        lam1=(lam1,),
        ridge_reference=False,
    )
    head_config = config.head_config("svm", lam1)
    if size.resnet_channels != SIZES["paper"].resnet_channels and backbone_name == "resnet12":
        torch.manual_seed(config.seed)
        model = MetaLearner(
            ResNet12(channels=size.resnet_channels), MetaHead(head_config, size.way)
        )
    else:
        model = build_model(config, head_config, config.seed)
    model.to(device).train()
    model.backbone.set_progress(0.5)
    batches = [_episodes(config, size, seed) for seed in range(2)]
    batches = [
        EpisodeBatch(
            *(t.to(device) for t in (b.support, b.support_labels, b.query, b.query_labels))
        )
        for b in batches
    ]
    optimizer = sgd(model, config)
    with torch.no_grad():  # evaluation mode: no batch-norm update from this probe
        features = model.backbone.eval()(batches[0].support[0][:1]).shape[-1]
    model.backbone.train()
    seen: dict[str, torch.Tensor] = {}

    def keep_support(module: nn.Module, args: tuple[Any, ...]) -> None:
        seen["support"], seen["labels"] = args[0].detach(), args[1]

    def lam1_max_seconds() -> dict[str, float]:
        """Time the head's λ1_max solve alone, on the last step's support features."""
        _sync(device)
        start = time.perf_counter()
        sl.functional.svm_lambda1_max(
            nnf.normalize(seen["support"], dim=-1),
            seen["labels"],
            num_classes=size.way,
            tol=head_config.lam1_max_tol,
        )
        _sync(device)
        return {"lam1_max_s": time.perf_counter() - start}

    if lam1 > 0:
        model.head.register_forward_pre_hook(keep_support)

    def step(i: int) -> None:
        batch = batches[i % len(batches)]
        out = model(batch)
        loss = query_loss(out.logits, batch.query_labels, config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    info = {
        "episodes": config.episodes_per_batch,
        "way": config.way,
        "shot": config.train_shot,
        "query": config.query,
        "image": image,
        "m": features,
        "lam1": f"{lam1:g} λ1_max",
        "lam2": config.lam2,
        "tol": config.tol,
        "max_iter": config.max_iter,
    }
    probe = lam1_max_seconds if lam1 > 0 else None
    return Workload(meta_name(backbone_name, lam1), model.head, step, info, probe)


def meta_name(backbone_name: str, lam1: float) -> str:
    """The name of a meta-learning configuration in the report."""
    return f"meta {backbone_name} + SVM head, λ1 = {lam1:g} λ1_max"


def _episodes(config: Any, size: Size, seed: int) -> Any:
    """A batch of ``config.episodes_per_batch`` episodes (procedural or random images)."""
    from harness.data.fewshot import EpisodeBatch, EpisodeSampler

    b, way, shot, query = config.episodes_per_batch, config.way, config.train_shot, config.query
    if size.procedural:
        images = _procedural_split(config.image_size)
        sampler = EpisodeSampler(images, way, shot, query, seed=config.seed)
        return sampler.episodes(seed * b, b)
    g = torch.Generator().manual_seed(seed)
    side = config.image_size
    labels = torch.arange(way)
    return EpisodeBatch(
        torch.randn(b, way * shot, 3, side, side, generator=g),
        labels.repeat_interleave(shot).expand(b, -1).contiguous(),
        torch.randn(b, way * query, 3, side, side, generator=g),
        labels.repeat_interleave(query).expand(b, -1).contiguous(),
    )


_SPLITS: dict[int, Any] = {}


def _procedural_split(image_size: int) -> Any:
    """The procedural training split at ``image_size`` (built once: rendering set-up is slow)."""
    from harness.data.fewshot_procedural import ProceduralFewShot

    if image_size not in _SPLITS:
        _SPLITS[image_size] = ProceduralFewShot("train", image_size=image_size)
    return _SPLITS[image_size]


def workloads(
    size: Size, device: torch.device, only: Sequence[str]
) -> list[tuple[str, Callable[[], Workload]]]:
    """(name, builder) of the configurations of ``only`` (built lazily, one at a time)."""
    builders: list[tuple[str, Callable[[], Workload]]] = []
    if "disentanglement" in only:
        builders.append((DISENTANGLEMENT_NAME, lambda: disentanglement(size, device)))
    for backbone_name in ("conv4", "resnet12"):
        if f"meta-{backbone_name}" in only:
            for lam1 in (0.0, SPARSE_LAM1):
                builders.append(
                    (
                        meta_name(backbone_name, lam1),
                        lambda b=backbone_name, l1=lam1: meta(b, l1, size, device),
                    )
                )
    return builders


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(work: Workload, device: torch.device, steps: int, warmup: int) -> dict[str, Any]:
    """Run ``warmup`` + ``steps`` steps of ``work``; the timings of the timed ones."""
    clock = SpanClock(device)
    instrument(work.layer, clock)
    rows = []
    for i in range(warmup + steps):
        clock.reset()
        _sync(device)
        start = time.perf_counter()
        work.step(i)
        _sync(device)
        total = time.perf_counter() - start
        if i >= warmup:
            fwd = clock.span("fwd_start", "fwd_end")
            bwd = clock.span("bwd_start", "bwd_end")
            rows.append({"step": total, "layer_forward": fwd, "layer_backward": bwd})
    summary: dict[str, Any] = {"name": work.name, **work.info, "steps": steps, "warmup": warmup}
    for key in ("step", "layer_forward", "layer_backward"):
        values = [r[key] for r in rows]
        summary[f"{key}_min_s"] = min(values)
        summary[f"{key}_median_s"] = statistics.median(values)
    layer = [r["layer_forward"] + r["layer_backward"] for r in rows]
    summary["layer_min_s"] = min(layer)
    summary["layer_median_s"] = statistics.median(layer)
    summary["layer_share_pct"] = 100 * statistics.median(
        (r["layer_forward"] + r["layer_backward"]) / r["step"] for r in rows
    )
    if work.probe is not None:
        summary.update(work.probe())
    summary["raw"] = rows
    return summary


def environment(device: torch.device) -> dict[str, Any]:
    """Where the numbers were measured."""
    env = {
        "device": str(device),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    if device.type == "cuda":
        env["gpu"] = torch.cuda.get_device_name(device)
        env["cuda"] = torch.version.cuda
    return env


def _ms(seconds: float) -> str:
    return f"{1e3 * seconds:.1f}"


def markdown(results: list[dict[str, Any]], env: dict[str, Any], size: Size) -> str:
    """The Markdown report of ``results``."""
    head = (
        f"# Training step: the sparse layer's share\n\n"
        f"Device {env['device']}{' (' + env['gpu'] + ')' if 'gpu' in env else ''}, torch "
        f"{env['torch']}, {env['threads']} threads, size `{size.name}`. Times in ms: min / "
        f"median over the timed steps; share = median of (layer forward + backward) / step.\n"
        f"Layer: `GroupLassoRegression` (disentanglement), `MetaHead` (meta: normalisation, "
        f"λ1_max, SVM dual solve, logits); *of which λ1_max*: the head's λ1_max solve timed "
        f"alone on the last step's support features.\n\n"
        "| configuration | shape | step | layer fwd | layer bwd | layer share | of which "
        "λ1_max |\n"
        "|---|---|---|---|---|---|---|\n"
    )
    lines = []
    for r in results:
        if "error" in r:
            lines.append(f"| {r['name']} | — | {r['error']} | | | | |")
            continue
        if "tasks" in r:
            shape = f"T={r['tasks']}, n={r['n']}, m={r['m']}, {r['image']}²"
        else:
            shape = (
                f"{r['episodes']}×{r['way']}-way {r['shot']}-shot, q={r['query']}, "
                f"m={r['m']}, {r['image']}²"
            )
        cells = [
            f"{_ms(r[f'{k}_min_s'])} / {_ms(r[f'{k}_median_s'])}"
            for k in ("step", "layer_forward", "layer_backward")
        ]
        lam1_max = _ms(r["lam1_max_s"]) if "lam1_max_s" in r else "—"
        lines.append(
            f"| {r['name']} | {shape} | {' | '.join(cells)} | {r['layer_share_pct']:.0f} % "
            f"| {lam1_max} |"
        )
    return head + "\n".join(lines) + "\n"


def run(
    device: torch.device,
    size: Size,
    steps: int,
    warmup: int,
    out: Path,
    only: Sequence[str] = EXPERIMENTS,
    deadline: float | None = None,
    log: Callable[[str], None] = print,
) -> list[dict[str, Any]]:
    """Measure every configuration of ``only``; write ``out``.md and ``out``.json.

    Configurations that would start after ``deadline`` (a ``time.perf_counter()`` value) are
    recorded as skipped.
    """
    env = environment(device)
    results: list[dict[str, Any]] = []
    for name, build in workloads(size, device, only):
        begin = time.perf_counter()
        if deadline is not None and begin > deadline:
            results.append({"name": name, "error": "skipped: time budget spent"})
            continue
        log(f"training-step: {name} ...")
        try:
            result = measure(build(), device, steps, warmup)
        except Exception as err:  # a failed configuration is reported, not fatal
            result = {"name": name, "error": repr(err)[:300]}
            log(f"training-step: failed: {result['error']}")
        else:
            log(
                f"  step {_ms(result['step_median_s'])} ms, layer "
                f"{_ms(result['layer_median_s'])} ms ({result['layer_share_pct']:.0f} %), "
                f"{time.perf_counter() - begin:.1f} s"
            )
        results.append(result)
    out.parent.mkdir(parents=True, exist_ok=True)
    record = {"environment": env, "size": asdict(size), "results": results}
    out.with_suffix(".json").write_text(json.dumps(record, indent=2, ensure_ascii=False))
    out.with_suffix(".md").write_text(markdown(results, env, size))
    log(f"training-step: wrote {out.with_suffix('.md')} and {out.with_suffix('.json')}")
    return results


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.training_step",
        description="Time one training step of each experiment and the sparse layer's share.",
    )
    parser.add_argument("--device", default="cpu", help="torch device (default: cpu)")
    parser.add_argument(
        "--size",
        choices=sorted(SIZES),
        default=None,
        help="shapes: paper (default on CUDA), reduced (default on CPU), smoke",
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 timed step")
    parser.add_argument(
        "--steps",
        type=int,
        default=None,
        help="timed steps (default 5 on CUDA, 2 on CPU, 1 with --smoke)",
    )
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed steps (default 2 on CUDA, 1 on CPU)"
    )
    parser.add_argument(
        "--only",
        nargs="+",
        choices=EXPERIMENTS,
        default=None,
        help="experiments (default: all; with --smoke: all but meta-conv4)",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"report stem (default {DEFAULT_OUT})"
    )
    args = parser.parse_args(argv)
    if args.smoke and args.size not in (None, "smoke"):
        parser.error("--smoke and --size are exclusive")
    for name in ("steps", "warmup"):
        value = getattr(args, name)
        if value is not None and value < (1 if name == "steps" else 0):
            parser.error(f"--{name} must be >= {1 if name == 'steps' else 0}, got {value}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise SystemExit("training-step: --device cuda but CUDA is not available")
    name = "smoke" if args.smoke else args.size or ("paper" if device.type == "cuda" else "reduced")
    steps = args.steps or (1 if args.smoke else 5 if device.type == "cuda" else 2)
    warmup = args.warmup if args.warmup is not None else (2 if device.type == "cuda" else 1)
    size = SIZES[name]
    run(device, size, steps, warmup, args.out.with_suffix(""), args.only or size.experiments)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
