import h5py
import numpy as np
import pytest
import torch

from harness.data import ThreeDShapesFile


def test_reads_images_by_grid_index(tmp_path, small_grid, write_shapes_file):
    expected = write_shapes_file(tmp_path / "3dshapes.h5", small_grid)
    with ThreeDShapesFile(tmp_path) as data:  # a directory holding the file
        assert data.grid.sizes == small_grid.sizes
        for got, want in zip(data.grid.values, small_grid.values, strict=True):
            np.testing.assert_allclose(got, want)
        index = torch.tensor([[5, 0, 5], [191, 77, 3]])  # repeated and unsorted
        images = data.images(index)
        assert images.shape == (2, 3, 3, 64, 64) and images.dtype == torch.float32
        want = torch.from_numpy(expected[index.reshape(-1).numpy()]).permute(0, 3, 1, 2) / 255
        assert torch.equal(images.reshape(6, 3, 64, 64), want)


def test_in_memory_equals_on_disk(tmp_path, small_grid, write_shapes_file):
    path = tmp_path / "3dshapes.h5"
    write_shapes_file(path, small_grid)
    index = torch.arange(0, 192, 7)
    with ThreeDShapesFile(path) as on_disk:
        expected = on_disk.images(index)
    assert torch.equal(ThreeDShapesFile(path, in_memory=True).images(index), expected)


def test_missing_file_says_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="3dshapes.h5.*'images'.*uint8.*'labels'"):
        ThreeDShapesFile(tmp_path)


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)


@pytest.mark.parametrize(
    ("datasets", "message"),
    [
        ({"images": np.zeros((4, 64, 64, 3), np.uint8)}, "no dataset 'labels'"),
        (
            {"images": np.zeros((4, 64, 64, 3), np.float32), "labels": np.zeros((4, 6))},
            "'images' is",
        ),
        ({"images": np.zeros((4, 32, 32, 3), np.uint8), "labels": np.zeros((4, 6))}, "'images' is"),
        ({"images": np.zeros((4, 64, 64, 3), np.uint8), "labels": np.zeros((4, 5))}, "'labels' is"),
        (
            {"images": np.zeros((3, 64, 64, 3), np.uint8), "labels": np.eye(3, 6)},
            "product grid",
        ),
    ],
    ids=["no-labels", "float-images", "small-images", "five-factors", "incomplete-grid"],
)
def test_malformed_file_says_what_is_expected(tmp_path, datasets, message):
    path = tmp_path / "3dshapes.h5"
    _write(path, **datasets)
    with pytest.raises(ValueError, match=message) as info:
        ThreeDShapesFile(path)
    assert "expected" in str(info.value) and "(N, 64, 64, 3) uint8" in str(info.value)


def test_not_hdf5(tmp_path):
    (tmp_path / "3dshapes.h5").write_text("not an hdf5 file")
    with pytest.raises(ValueError, match="not readable HDF5"):
        ThreeDShapesFile(tmp_path)
