"""Image sources of the disentanglement runs: the procedural renderer or the real file."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import torch
import torch.nn.functional as F

from harness.data import ImageSource, ProceduralShapes, SceneConfig, ThreeDShapesFile


class PooledSource:
    """An `ImageSource` average-pooled by an integer factor (64×64 file → smaller images)."""

    def __init__(self, source: ImageSource, image_size: int) -> None:
        size = source.image_shape[-1]
        if size % image_size:
            raise ValueError(f"image_size: {image_size} does not divide the source's {size}")
        self.source, self.grid, self.factor = source, source.grid, size // image_size
        self.image_shape = (3, image_size, image_size)

    def images(self, index: torch.Tensor) -> torch.Tensor:
        images = self.source.images(index)
        flat = images.reshape(-1, *images.shape[-3:])
        pooled = F.avg_pool2d(flat, self.factor) if self.factor > 1 else flat
        return pooled.reshape(*images.shape[:-3], *self.image_shape)


@lru_cache(maxsize=2)
def image_source(data_dir: str | None, image_size: int, device: str = "cpu") -> ImageSource:
    """The procedural dataset at ``image_size`` (``data_dir`` None), or ``3dshapes.h5`` in
    ``data_dir`` pooled to ``image_size``. Cached: a sweep builds its source once.

    Raises:
        FileNotFoundError: ``data_dir`` holds no ``3dshapes.h5`` (the message says what is
            expected).
    """
    if data_dir is None:
        return ProceduralShapes(scene=SceneConfig(image_size=image_size), device=device)
    source = ThreeDShapesFile(Path(data_dir), device=device)
    if source.image_shape[-1] == image_size:
        return source
    return PooledSource(source, image_size)
