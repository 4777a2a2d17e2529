"""``render-samples``: sample grids of the 3D Shapes images and the renderer's throughput.

Writes ``factor_sweeps.png`` (row i walks factor i over its whole grid, the other factors fixed),
``samples.png`` (random grid points) and ``results.json`` (the grid points shown and the measured
images/s). With ``--data-dir`` the same grid points are shown from the real ``3dshapes.h5``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch

from harness.data import FACTOR_NAMES, ProceduralShapes, SceneConfig, ThreeDShapesFile, render
from harness.data.factors import FactorGrid
from harness.data.latents import LatentDistribution
from harness.data.sampler import ImageSource, TaskSampler
from harness.data.tasks import weight_distribution
from harness.plotting import image_grid, save_figure
from harness.results import write_results

NAME = "render-samples"
HELP = "save sample grids of the 3D Shapes images (one factor per row) and time the renderer"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``python -m harness render-samples``."""
    parser.add_argument("--device", default="cpu", help="torch device to render on (default: cpu)")
    parser.add_argument(
        "--supersample", type=int, default=2, help="rays per pixel along each axis (default: 2)"
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="show the real 3dshapes.h5 in this directory instead of the procedural renderer",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of the random samples")
    parser.add_argument(
        "--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)"
    )
    parser.add_argument(
        "--benchmark-images", type=int, default=1024, help="images per throughput measurement"
    )


def run(args: argparse.Namespace) -> None:
    """Render the grids, measure throughput and write figures + results into ``args.out``."""
    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    scene = SceneConfig(supersample=args.supersample)
    source = _source(args.data_dir, scene, device)
    generator = torch.Generator().manual_seed(args.seed)
    sample_index = torch.randint(source.grid.num_points, (64,), generator=generator)
    config = {
        "device": str(device),
        "supersample": args.supersample,
        "data_dir": None if args.data_dir is None else str(args.data_dir),
        "seed": args.seed,
        "threads": torch.get_num_threads(),
    }
    throughput = None
    if args.data_dir is None and args.benchmark_images > 0:
        throughput = measure_throughput(source.grid, scene, device, args.benchmark_images)
        for key, value in throughput.items():
            print(f"{key}: {value:,.0f}")
    write_results(
        args.out,
        NAME,
        config,
        base_point=_base_point(source.grid),
        sample_indices=sample_index.tolist(),
        throughput=throughput,
    )
    for path in _draw(source, _base_point(source.grid), sample_index.tolist(), Path(args.out)):
        print(f"wrote {path}")


def plot(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Redraw the grids of a results file (the renderer is deterministic)."""
    config = results["config"]
    scene = SceneConfig(supersample=config["supersample"])
    data_dir = config.get("data_dir")
    source = _source(None if data_dir is None else Path(data_dir), scene, torch.device("cpu"))
    return _draw(source, results["base_point"], results["sample_indices"], out_dir)


def measure_throughput(
    grid: FactorGrid, scene: SceneConfig, device: torch.device, num_images: int
) -> dict[str, float]:
    """Images per second of the ray caster, of the cached dataset and of the task sampler."""
    generator = torch.Generator().manual_seed(0)
    index = torch.randint(grid.num_points, (num_images,), generator=generator)
    factors = grid.values_at(index, dtype=torch.float32).to(device)
    render(factors[:8], scene)  # warm-up
    raycast = _images_per_second(lambda: render(factors, scene), num_images, device)
    start = time.perf_counter()
    source = ProceduralShapes(grid, scene, device)
    cache_seconds = time.perf_counter() - start
    cached = _images_per_second(lambda: source.images(index), num_images, device)
    sampler = TaskSampler(
        source, LatentDistribution(grid, 1.0, 0.9), weight_distribution("bernoulli"), device=device
    )
    per_batch = sampler.num_tasks * sampler.n_samples
    batches = max(1, num_images // per_batch)
    sampled = _images_per_second(
        lambda: [sampler.sample(step) for step in range(batches)], batches * per_batch, device
    )
    return {
        "raycast_images_per_s": raycast,
        "cached_images_per_s": cached,
        "sampler_images_per_s": sampled,
        "cache_build_s": cache_seconds,
    }


def _images_per_second(fn: Any, num_images: int, device: torch.device) -> float:
    fn()  # warm-up
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return num_images / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _source(data_dir: Path | None, scene: SceneConfig, device: torch.device) -> ImageSource:
    if data_dir is None:
        return ProceduralShapes(scene=scene, device=device)
    return ThreeDShapesFile(data_dir, device=device)


def _base_point(grid: FactorGrid) -> list[int]:
    """A grid point away from the edges of every factor (the other values of the sweeps)."""
    return [min(size - 1, pick) for size, pick in zip(grid.sizes, (3, 6, 0, 4, 0, 7), strict=True)]


def _draw(
    source: ImageSource, base_point: list[int], sample_index: list[int], out_dir: Path
) -> list[Path]:
    grid = source.grid
    width = max(grid.sizes)
    rows, mask = [], []
    for factor, size in enumerate(grid.sizes):
        point = torch.tensor(base_point).repeat(width, 1)
        point[:, factor] = torch.arange(width).clamp(max=size - 1)
        rows.append(grid.ravel(point))
        mask.append(torch.arange(width) < size)
    sweeps = source.images(torch.stack(rows)).cpu()
    sweeps[~torch.stack(mask)] = 1.0  # blank the cells past a factor's last value

    h = source.image_shape[1] + 4
    fig, ax = plt.subplots(figsize=(width * 0.75, len(rows) * 0.8))
    ax.imshow(image_grid(sweeps))
    ax.set_yticks([h * (i + 0.5) for i in range(len(rows))], FACTOR_NAMES)
    ax.set_xticks([])
    ax.set_title("each row varies one factor over its grid; the others are fixed")
    paths = [save_figure(fig, out_dir / "factor_sweeps.png")]

    samples = source.images(torch.tensor(sample_index)).cpu()
    side = int(len(sample_index) ** 0.5)
    samples = samples[: side * side].reshape(side, side, *source.image_shape)
    fig, ax = plt.subplots(figsize=(side * 0.9, side * 0.9))
    ax.imshow(image_grid(samples))
    ax.set_axis_off()
    ax.set_title("random grid points")
    paths.append(save_figure(fig, out_dir / "samples.png"))
    return paths
