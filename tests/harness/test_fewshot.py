"""Few-shot data: pickle loaders on tiny files in the real format, the procedural dataset's
splits, and the episode sampler's reproducibility."""

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from harness.data.factors import shapes3d_grid
from harness.data.fewshot import SPLIT_FILES, EpisodeSampler, PickleImages, pickle_split
from harness.data.fewshot_procedural import ProceduralFewShot
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig


def write_pickle(path: Path, classes: int = 6, per_class: int = 5, size: int = 8) -> np.ndarray:
    """A miniImageNet-format pickle (protocol 2, as the Python-2 originals): dict with ``data``
    (N, size, size, 3) uint8 and ``labels`` (a list of ints, offset like the val/test splits)."""
    rng = np.random.default_rng(0)
    data = rng.integers(0, 256, (classes * per_class, size, size, 3), dtype=np.uint8)
    labels = [64 + i % classes for i in range(classes * per_class)]
    with path.open("wb") as f:
        pickle.dump({"data": data, "labels": labels}, f, protocol=2)
    return data


@pytest.fixture(scope="module")
def renderer() -> ProceduralShapes:
    return ProceduralShapes(shapes3d_grid(), SceneConfig(image_size=8, supersample=1))


@pytest.mark.parametrize("dataset", ["miniimagenet", "cifar-fs"])
def test_pickle_split_reads_the_real_format(tmp_path, dataset):
    data = write_pickle(tmp_path / SPLIT_FILES[dataset]["val"])
    split = pickle_split(tmp_path, dataset, "val")
    assert split.num_classes == 6
    images = split.sample(torch.tensor([0, 3]), 4, torch.Generator().manual_seed(0))
    assert images.shape == (2, 4, 3, 8, 8) and images.dtype == torch.float32
    # every sampled image of class 3 is one of the file's images labelled 64 + 3, normalised
    members = torch.from_numpy(data[3::6]).permute(0, 3, 1, 2).float() / 255
    restored = images[1] * split._std + split._mean
    for image in restored:
        assert torch.isclose(image, members, atol=1e-5).flatten(1).all(1).any()


def test_pickle_errors_name_the_problem(tmp_path):
    with pytest.raises(FileNotFoundError, match="no file"):
        pickle_split(tmp_path, "miniimagenet", "train")
    bad = tmp_path / "bad.pickle"
    bad.write_bytes(b"not a pickle at all")
    with pytest.raises(ValueError, match="not a readable pickle"):
        PickleImages(bad, "miniimagenet")
    with bad.open("wb") as f:
        pickle.dump({"images": np.zeros((2, 8, 8, 3), np.uint8)}, f, protocol=2)
    with pytest.raises(ValueError, match="'data' and 'labels'"):
        PickleImages(bad, "cifar-fs")
    with bad.open("wb") as f:
        pickle.dump({"data": np.zeros((2, 8, 8), np.uint8), "labels": [0, 1]}, f, protocol=2)
    with pytest.raises(ValueError, match="uint8"):
        PickleImages(bad, "cifar-fs")
    with pytest.raises(ValueError, match="dataset"):
        pickle_split(tmp_path, "omniglot", "train")


def test_procedural_splits_are_disjoint(renderer):
    splits = {s: ProceduralFewShot(s, renderer=renderer) for s in ("train", "val", "test")}
    ids = [set(splits[s].classes.tolist()) for s in splits]
    assert [len(c) for c in ids] == [40, 12, 12]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    images = splits["val"].sample(torch.tensor([1, 2]), 3, torch.Generator().manual_seed(0))
    assert images.shape == (2, 3, 3, 8, 8) and torch.isfinite(images).all()


def test_sampler_is_seeded_and_reproducible(renderer):
    data = ProceduralFewShot("train", renderer=renderer)
    sampler = EpisodeSampler(data, way=3, shot=2, query=4, seed=7)
    batch = sampler.episodes(0, 5)
    assert batch.support.shape == (5, 6, 3, 8, 8) and batch.query.shape == (5, 12, 3, 8, 8)
    assert batch.support_labels[0].tolist() == [0, 0, 1, 1, 2, 2]
    again = EpisodeSampler(data, way=3, shot=2, query=4, seed=7).episodes(2, 2)
    assert torch.equal(again.support, batch.support[2:4])
    assert torch.equal(again.query, batch.query[2:4])
    other = EpisodeSampler(data, way=3, shot=2, query=4, seed=8).episodes(0, 1)
    assert not torch.equal(other.support, batch.support[:1])
    shard = batch.shard(1, 5)
    assert torch.equal(shard.query, batch.query[1:2])
    with pytest.raises(ValueError, match="world_size"):
        batch.shard(0, 2)
    with pytest.raises(ValueError, match="way"):
        EpisodeSampler(data, way=41, shot=1, query=1, seed=0)
