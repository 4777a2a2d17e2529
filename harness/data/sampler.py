"""The task sampler the training code draws from: (images, latents, targets) per batch of tasks.

Batches are a pure function of (seed, step, task id): each task draws from its own generator
seeded by ``SeedSequence([seed, step, task])``, so a run resumed at step s sees the batches it
would have seen, and a data-parallel rank may draw only its own tasks (``task_ids``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch

from harness.data.factors import FactorGrid
from harness.data.latents import LatentDistribution
from harness.data.tasks import WeightDistribution, make_targets


class ImageSource(Protocol):
    """Images of the points of a factor grid (`ProceduralShapes`, `ThreeDShapesFile`)."""

    grid: FactorGrid

    @property
    def image_shape(self) -> tuple[int, int, int]: ...

    def images(self, index: torch.Tensor) -> torch.Tensor:
        """Float32 images (..., 3, H, W) in [0, 1] of flat grid indices (...,)."""
        ...


@dataclass(frozen=True)
class TaskBatch:
    """A batch of T regression tasks with n samples each.

    Attributes:
        images: (T, n, 3, H, W) float32 in [0, 1].
        latents: (T, n, 6) standardized noisy factors z (the ground-truth features f_θ,α(x)).
        targets: (T, n), y = Z w + ε.
        weights: (T, 6) ground-truth task weights w.
        indices: (T, n) int64 flat grid indices of the samples.
    """

    images: torch.Tensor
    latents: torch.Tensor
    targets: torch.Tensor
    weights: torch.Tensor
    indices: torch.Tensor


class TaskSampler:
    """Seeded, reproducible batches of sparse regression tasks.

    Args:
        source: images of the grid points.
        latents: p_{α,ρ}(z) over the same grid.
        weights: distribution of the task weights.
        num_tasks: T, tasks per batch.
        n_samples: n, samples per task.
        noise_ratio: noise-to-signal norm ratio of the targets (0.1 in the paper).
        seed: seed of the batch stream.
        device: where the batch tensors go; images are produced on the source's device.
        dtype: floating dtype of latents, targets and weights.
    """

    def __init__(
        self,
        source: ImageSource,
        latents: LatentDistribution,
        weights: WeightDistribution,
        num_tasks: int = 8,
        n_samples: int = 50,
        noise_ratio: float = 0.1,
        seed: int = 0,
        device: torch.device | str = "cpu",
        dtype: torch.dtype = torch.float32,
    ) -> None:
        if source.grid.sizes != latents.grid.sizes:
            raise ValueError(
                f"latents: grid sizes {latents.grid.sizes} differ from the source's "
                f"{source.grid.sizes}"
            )
        if num_tasks < 1:
            raise ValueError(f"num_tasks must be >= 1, got {num_tasks}")
        if n_samples < 1:
            raise ValueError(f"n_samples must be >= 1, got {n_samples}")
        if noise_ratio < 0:
            raise ValueError(f"noise_ratio must be >= 0, got {noise_ratio}")
        self.source, self.latents, self.weights = source, latents, weights
        self.num_tasks, self.n_samples, self.noise_ratio = num_tasks, n_samples, noise_ratio
        self.seed, self.device, self.dtype = seed, torch.device(device), dtype

    def sample(self, step: int, task_ids: Sequence[int] | None = None) -> TaskBatch:
        """The batch of step ``step``: all tasks, or the tasks ``task_ids`` of it.

        Returns a `TaskBatch` with T = len(task_ids) (default ``num_tasks``).
        """
        if step < 0:
            raise ValueError(f"step must be >= 0, got {step}")
        task_ids = range(self.num_tasks) if task_ids is None else task_ids
        if len(task_ids) == 0 or any(not 0 <= t < self.num_tasks for t in task_ids):
            raise ValueError(f"task_ids must lie in [0, {self.num_tasks}), got {list(task_ids)}")
        indices, weights, targets = [], [], []
        for task in task_ids:
            state = np.random.SeedSequence([self.seed, step, task]).generate_state(1, np.uint64)
            generator = torch.Generator().manual_seed(int(state[0]))
            index = self.latents.sample((self.n_samples,), generator)
            w = self.weights.sample(1, self.latents.dim, generator)[0]
            y = make_targets(self.latents.latents[index], w, self.noise_ratio, generator)
            indices.append(index)
            weights.append(w)
            targets.append(y)
        index = torch.stack(indices)
        to = {"device": self.device, "dtype": self.dtype}
        return TaskBatch(
            images=self.source.images(index).to(self.device),
            latents=self.latents.latents[index].to(**to),
            targets=torch.stack(targets).to(**to),
            weights=torch.stack(weights).to(**to),
            indices=index.to(self.device),
        )
