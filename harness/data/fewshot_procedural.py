"""A procedural few-shot dataset rendered from 3D Shapes scenes (`harness.data.procedural`).

A class is a combination of *object* factors: shape (4 values) x scale (8) x object hue half
(hues 0.0-0.4 or 0.5-0.9), 64 classes split disjointly (seeded) into 40 train, 12 validation and
12 test classes. Everything else is a nuisance drawn per image: the object hue within its half,
floor and wall hues (which may equal the object's), the orientation, and i.i.d. Gaussian pixel
noise. Neighbouring scales differ by under a pixel at 32x32 and neighbouring hue halves by one
hue step, so a small network does not reach 100% 5-way accuracy. This stands in for
miniImageNet when no real file is available (DESIGN.md §6).
"""

from __future__ import annotations

import torch

from harness.data.factors import shapes3d_grid
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig

NUM_CLASSES = 64
SPLIT_SIZES: dict[str, int] = {"train": 40, "val": 12, "test": 12}


class ProceduralFewShot:
    """One split of the procedural few-shot dataset.

    Args:
        split: ``"train"``, ``"val"`` or ``"test"``.
        image_size: rendered height = width.
        noise: standard deviation of the Gaussian pixel noise (images in [0, 1] before it).
        split_seed: seed of the class permutation defining the splits (same for every split).
        renderer: a `ProceduralShapes` to share between splits (built if None).
    """

    def __init__(
        self,
        split: str,
        image_size: int = 32,
        noise: float = 0.2,
        split_seed: int = 0,
        renderer: ProceduralShapes | None = None,
    ) -> None:
        if split not in SPLIT_SIZES:
            raise ValueError(f"split: expected one of {sorted(SPLIT_SIZES)}, got {split!r}")
        if noise < 0:
            raise ValueError(f"noise: must be >= 0, got {noise}")
        self.grid = shapes3d_grid()
        self.renderer = renderer or ProceduralShapes(
            self.grid, SceneConfig(image_size=image_size, supersample=1)
        )
        perm = torch.randperm(NUM_CLASSES, generator=torch.Generator().manual_seed(split_seed))
        start = {"train": 0, "val": 40, "test": 52}[split]
        self.classes = perm[start : start + SPLIT_SIZES[split]]  # global class ids
        self.noise = noise

    @property
    def num_classes(self) -> int:
        """Number of classes in the split."""
        return int(self.classes.numel())

    def sample(self, classes: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` images of each split class in ``classes`` (N,): (N, count, 3, H, W)."""
        glob = self.classes[classes]  # (N,) global ids: (shape, scale, hue half) in mixed radix
        shape, rest = glob // 16, glob % 16
        scale, half = rest // 2, rest % 2
        shape_n = (glob.numel(), count)
        index = torch.empty(*shape_n, 6, dtype=torch.long)
        index[..., 0] = torch.randint(10, shape_n, generator=generator)
        index[..., 1] = torch.randint(10, shape_n, generator=generator)
        index[..., 2] = half[:, None] * 5 + torch.randint(5, shape_n, generator=generator)
        index[..., 3] = scale[:, None]
        index[..., 4] = shape[:, None]
        index[..., 5] = torch.randint(15, shape_n, generator=generator)
        images = self.renderer.images(self.grid.ravel(index))
        noise = torch.randn(images.shape, generator=generator) * self.noise
        return (images + noise - 0.5) / 0.25
