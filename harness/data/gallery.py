"""Figures of the 3D Shapes images (factor sweeps, random samples) and the renderer's throughput.

`draw_gallery` writes ``factor_sweeps.png`` (row i walks factor i over its whole grid, the other
factors fixed at `base_point`) and ``samples.png`` (random grid points, `sample_indices`) from
any `ImageSource`: the procedural renderer or the real ``3dshapes.h5`` (`image_source`).
`measure_throughput` times the ray caster, the cached procedural dataset and the task sampler.
`render_gallery` is the ``render-samples`` command (`harness.experiments.render_samples`); it
returns the fields of its ``results.json``, from which `gallery_figures` redraws both figures
(the renderer is deterministic).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import torch

from harness.data.factors import FACTOR_NAMES, FactorGrid
from harness.data.latents import LatentDistribution
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig, render
from harness.data.sampler import ImageSource, TaskSampler
from harness.data.tasks import weight_distribution
from harness.data.threedshapes import ThreeDShapesFile
from harness.plotting import image_grid, save_figure

NUM_SAMPLES = 64
"""Random grid points of ``samples.png`` (an 8 x 8 grid)."""


@dataclass(frozen=True)
class GalleryConfig:
    """Settings of a gallery; ``render-samples`` has one flag per field (`harness.config`).

    Attributes:
        supersample: rays per pixel along each axis of the procedural renderer (`SceneConfig`).
        seed: seed of the random grid points of ``samples.png``.
        benchmark_images: images per throughput measurement; 0 measures nothing.
    """

    supersample: int = 2
    seed: int = 0
    benchmark_images: int = 1024

    def __post_init__(self) -> None:
        if self.supersample < 1:
            raise ValueError(f"supersample must be >= 1, got {self.supersample}")
        if self.benchmark_images < 0:
            raise ValueError(f"benchmark_images must be >= 0, got {self.benchmark_images}")

    @property
    def scene(self) -> SceneConfig:
        """The renderer's scene: the default framing at ``supersample``."""
        return SceneConfig(supersample=self.supersample)


def render_gallery(
    config: GalleryConfig, data_dir: Path | None, device: torch.device
) -> tuple[ImageSource, dict[str, Any]]:
    """The image source and the results fields ``base_point``, ``sample_indices``, ``throughput``.

    ``throughput`` (`measure_throughput`) is None for the real file (``data_dir`` given: the
    timings are the procedural renderer's) and for ``benchmark_images = 0``.
    """
    source = image_source(data_dir, config.scene, device)
    throughput = None
    if data_dir is None and config.benchmark_images > 0:
        throughput = measure_throughput(source.grid, config.scene, device, config.benchmark_images)
    return source, {
        "base_point": base_point(source.grid),
        "sample_indices": sample_indices(source.grid, config.seed),
        "throughput": throughput,
    }


def gallery_figures(results: dict[str, Any], out_dir: Path) -> list[Path]:
    """Redraw `draw_gallery`'s figures of a ``render-samples`` results file, on the CPU."""
    config = results["config"]
    data_dir = config.get("data_dir")
    scene = SceneConfig(supersample=config["supersample"])
    source = image_source(None if data_dir is None else Path(data_dir), scene, torch.device("cpu"))
    return draw_gallery(source, results["base_point"], results["sample_indices"], out_dir)


def image_source(data_dir: Path | None, scene: SceneConfig, device: torch.device) -> ImageSource:
    """The real ``data_dir/3dshapes.h5`` if ``data_dir`` is given, else the procedural scenes."""
    if data_dir is None:
        return ProceduralShapes(scene=scene, device=device)
    return ThreeDShapesFile(data_dir, device=device)


def base_point(grid: FactorGrid) -> list[int]:
    """A grid point away from the edges of every factor (the other values of the sweeps).

    Per-factor value indices, length 6 (``[3, 6, 0, 4, 0, 7]`` on the 3D Shapes grid).
    """
    return [min(size - 1, pick) for size, pick in zip(grid.sizes, (3, 6, 0, 4, 0, 7), strict=True)]


def sample_indices(grid: FactorGrid, seed: int, count: int = NUM_SAMPLES) -> list[int]:
    """``count`` flat grid indices drawn uniformly (with replacement) by a generator at ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(grid.num_points, (count,), generator=generator).tolist()


def factor_sweep_images(source: ImageSource, point: list[int]) -> torch.Tensor:
    """Row i: factor i over its grid, the others at ``point``; shape (6, max size, 3, H, W).

    Rows are as wide as the largest factor; cells past a factor's last value are white (1.0).
    Returned on the CPU.
    """
    grid = source.grid
    width = max(grid.sizes)
    rows, mask = [], []
    for factor, size in enumerate(grid.sizes):
        sweep = torch.tensor(point).repeat(width, 1)
        sweep[:, factor] = torch.arange(width).clamp(max=size - 1)
        rows.append(grid.ravel(sweep))
        mask.append(torch.arange(width) < size)
    sweeps = source.images(torch.stack(rows)).cpu()
    sweeps[~torch.stack(mask)] = 1.0  # blank the cells past a factor's last value
    return sweeps


def draw_gallery(
    source: ImageSource, point: list[int], indices: list[int], out_dir: Path
) -> list[Path]:
    """Write ``factor_sweeps.png`` (sweeps around ``point``) and ``samples.png`` (``indices``).

    ``samples.png`` shows the first side² of ``indices`` on a side x side grid, side =
    ⌊√len(indices)⌋. Returns the two paths.
    """
    sweeps = factor_sweep_images(source, point)
    num_rows, width = sweeps.shape[:2]
    h = source.image_shape[1] + 4
    fig, ax = plt.subplots(figsize=(width * 0.75, num_rows * 0.8))
    ax.imshow(image_grid(sweeps))
    ax.set_yticks([h * (i + 0.5) for i in range(num_rows)], FACTOR_NAMES)
    ax.set_xticks([])
    ax.set_title("each row varies one factor over its grid; the others are fixed")
    paths = [save_figure(fig, out_dir / "factor_sweeps.png")]

    samples = source.images(torch.tensor(indices)).cpu()
    side = int(len(indices) ** 0.5)
    samples = samples[: side * side].reshape(side, side, *source.image_shape)
    fig, ax = plt.subplots(figsize=(side * 0.9, side * 0.9))
    ax.imshow(image_grid(samples))
    ax.set_axis_off()
    ax.set_title("random grid points")
    paths.append(save_figure(fig, out_dir / "samples.png"))
    return paths


def measure_throughput(
    grid: FactorGrid, scene: SceneConfig, device: torch.device, num_images: int
) -> dict[str, float]:
    """Images per second of the ray caster, of the cached dataset and of the task sampler.

    Each rate is timed on a second call after a warm-up call (synchronising CUDA around the
    timed one); ``cache_build_s`` is the time to build `ProceduralShapes`' cache, once.
    """
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


def _images_per_second(fn: Callable[[], object], num_images: int, device: torch.device) -> float:
    fn()  # warm-up
    _sync(device)
    start = time.perf_counter()
    fn()
    _sync(device)
    return num_images / (time.perf_counter() - start)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
