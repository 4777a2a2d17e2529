"""Few-shot classification data: the standard pickles and an N-way K-shot episode sampler.

MetaOptNet (Lee et al., 2019; paper Section 5.2, Appendix D.3) trains on episodes: N classes drawn
from the split, K labelled *support* images and Q *query* images per class. Two sources of images
share one small protocol, `ClassImages`: the real files (`PickleImages`: miniImageNet
``miniImageNet_category_split_{train_phase_train,val,test}.pickle`` and CIFAR-FS
``CIFAR_FS_{train,val,test}.pickle``, Python-2 pickles holding ``data`` (N, H, W, 3) uint8 and
``labels``) and the procedural dataset of `harness.data.fewshot_procedural`.

Episodes are reproducible: episode ``i`` of a sampler with seed ``s`` depends on ``(s, i)`` only,
so a resumed run, another process of a DDP job, or an evaluation replays the same episodes.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch

# Per-channel mean / std (in [0, 1]) used by MetaOptNet's data loaders.
_STATS: dict[str, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    "miniimagenet": ((0.4721, 0.4533, 0.4100), (0.2772, 0.2677, 0.2845)),
    "cifar-fs": ((0.5074, 0.4867, 0.4411), (0.2675, 0.2566, 0.2763)),
}
SPLIT_FILES: dict[str, dict[str, str]] = {
    "miniimagenet": {
        "train": "miniImageNet_category_split_train_phase_train.pickle",
        "val": "miniImageNet_category_split_val.pickle",
        "test": "miniImageNet_category_split_test.pickle",
    },
    "cifar-fs": {
        "train": "CIFAR_FS_train.pickle",
        "val": "CIFAR_FS_val.pickle",
        "test": "CIFAR_FS_test.pickle",
    },
}


class ClassImages(Protocol):
    """A split of a few-shot dataset: ``num_classes`` classes, images drawn per class."""

    @property
    def num_classes(self) -> int: ...

    def sample(self, classes: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` images of each class in ``classes`` (N,): float32 (N, count, 3, H, W)."""
        ...


class PickleImages:
    """One split of miniImageNet or CIFAR-FS read from its pickle into memory.

    Args:
        path: the ``.pickle`` file (dict with ``data`` (N, H, W, 3) uint8 and ``labels`` (N,)).
        dataset: ``"miniimagenet"`` or ``"cifar-fs"`` (selects the normalisation statistics).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not such a pickle (names the problem).
    """

    def __init__(self, path: Path, dataset: str) -> None:
        if dataset not in _STATS:
            raise ValueError(f"dataset: expected one of {sorted(_STATS)}, got {dataset!r}")
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"data: no file {str(path)!r}")
        try:
            with path.open("rb") as f:
                content = pickle.load(f, encoding="latin1")
        except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as err:
            raise ValueError(f"data: {str(path)!r} is not a readable pickle ({err})") from err
        if not isinstance(content, dict) or "data" not in content or "labels" not in content:
            raise ValueError(f"data: {str(path)!r} must hold a dict with 'data' and 'labels'")
        data = np.asarray(content["data"])
        labels = np.asarray(content["labels"])
        if data.ndim != 4 or data.shape[-1] != 3 or data.dtype != np.uint8:
            raise ValueError(
                f"data: {str(path)!r} 'data' must be (N, H, W, 3) uint8, got "
                f"{data.shape} {data.dtype}"
            )
        if labels.shape != (data.shape[0],):
            raise ValueError(f"data: {str(path)!r} 'labels' must have shape ({data.shape[0]},)")
        self.path = path
        self._images = torch.from_numpy(np.ascontiguousarray(data))  # (N, H, W, 3) uint8
        classes, inverse = np.unique(labels, return_inverse=True)
        self.class_labels = classes  # original label of each class index
        order = np.argsort(inverse, kind="stable")
        counts = np.bincount(inverse, minlength=classes.size)
        self._members = [torch.from_numpy(ix) for ix in np.split(order, np.cumsum(counts)[:-1])]
        mean, std = _STATS[dataset]
        self._mean = torch.tensor(mean).view(3, 1, 1)
        self._std = torch.tensor(std).view(3, 1, 1)

    @property
    def num_classes(self) -> int:
        """Number of classes in the split."""
        return len(self._members)

    def sample(self, classes: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
        """``count`` distinct images of each class (N,): normalised float32 (N, count, 3, H, W)."""
        rows = []
        for c in classes.tolist():
            members = self._members[c]
            if members.numel() < count:
                raise ValueError(f"class {c} has {members.numel()} images, episode needs {count}")
            rows.append(members[torch.randperm(members.numel(), generator=generator)[:count]])
        index = torch.stack(rows)
        images = self._images[index].permute(0, 1, 4, 2, 3).float().div_(255.0)
        return (images - self._mean) / self._std


def pickle_split(data_dir: Path, dataset: str, split: str) -> PickleImages:
    """The ``split`` (``train``/``val``/``test``) of ``dataset`` from its file in ``data_dir``."""
    if dataset not in SPLIT_FILES:
        raise ValueError(f"dataset: expected one of {sorted(SPLIT_FILES)}, got {dataset!r}")
    if split not in SPLIT_FILES[dataset]:
        raise ValueError(f"split: expected train, val or test, got {split!r}")
    return PickleImages(Path(data_dir) / SPLIT_FILES[dataset][split], dataset)


@dataclass(frozen=True)
class EpisodeBatch:
    """A batch of B episodes of N-way classification (paper Section 5.2, Problem 7).

    Attributes:
        support: (B, N*K, 3, H, W) support images, class-major (K images of class 0 first).
        support_labels: (B, N*K) int64 labels in [0, N).
        query: (B, N*Q, 3, H, W) query images.
        query_labels: (B, N*Q) int64 labels in [0, N).
    """

    support: torch.Tensor
    support_labels: torch.Tensor
    query: torch.Tensor
    query_labels: torch.Tensor

    def shard(self, rank: int, world_size: int) -> EpisodeBatch:
        """The episodes of ``rank`` when B episodes are split evenly across ``world_size``."""
        b = self.support.shape[0]
        if b % world_size:
            raise ValueError(f"world_size: {world_size} does not divide the {b} episodes")
        part = slice(rank * b // world_size, (rank + 1) * b // world_size)
        return EpisodeBatch(
            self.support[part],
            self.support_labels[part],
            self.query[part],
            self.query_labels[part],
        )


class EpisodeSampler:
    """Seeded N-way K-shot episodes with Q queries per class from a `ClassImages` split.

    Episode ``i`` uses a generator seeded with ``seed * 1_000_003 + i``: episodes are a pure
    function of ``(seed, i)``, independent of which batch, process or order they are drawn in.

    Args:
        images: the split.
        way: N classes per episode (<= the split's classes).
        shot: K support images per class.
        query: Q query images per class.
        seed: the sampler's seed.
    """

    def __init__(self, images: ClassImages, way: int, shot: int, query: int, seed: int) -> None:
        if way < 2 or way > images.num_classes:
            raise ValueError(f"way: must lie in [2, {images.num_classes}], got {way}")
        if shot < 1 or query < 1:
            raise ValueError(f"shot and query must be >= 1, got {shot} and {query}")
        self.images, self.way, self.shot, self.query, self.seed = images, way, shot, query, seed

    def episodes(self, start: int, count: int) -> EpisodeBatch:
        """Episodes ``start, ..., start + count - 1`` stacked into one batch."""
        parts = [self._episode(start + i) for i in range(count)]
        return EpisodeBatch(*(torch.stack(p) for p in zip(*parts, strict=True)))

    def _episode(self, index: int) -> tuple[torch.Tensor, ...]:
        g = torch.Generator().manual_seed(self.seed * 1_000_003 + index)
        classes = torch.randperm(self.images.num_classes, generator=g)[: self.way]
        images = self.images.sample(classes, self.shot + self.query, g)  # (N, K+Q, 3, H, W)
        labels = torch.arange(self.way).unsqueeze(1)
        support = images[:, : self.shot].flatten(0, 1)
        query = images[:, self.shot :].flatten(0, 1)
        return (
            support,
            labels.expand(-1, self.shot).flatten(),
            query,
            labels.expand(-1, self.query).flatten(),
        )
