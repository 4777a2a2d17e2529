"""Shared fixtures of the harness tests."""

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

from harness.data.factors import FactorGrid


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each harness test on one torch thread: its tensors are small, and on a busy 2-core
    machine OpenMP threads waiting on each other made tests several times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def small_grid() -> FactorGrid:
    """A 2 x 2 x 2 x 2 x 4 x 3 grid (192 points) with real 3D Shapes values."""
    return FactorGrid(
        values=(
            np.array([0.0, 0.5]),
            np.array([0.2, 0.7]),
            np.array([0.1, 0.6]),
            np.array([0.75, 1.25]),
            np.arange(4.0),
            np.array([-30.0, 0.0, 30.0]),
        )
    )


def write_shapes_file(path: Path, grid: FactorGrid, seed: int = 0) -> np.ndarray:
    """Write a 3dshapes.h5-format file over ``grid`` with rows shuffled; return its images
    in flat grid order (N, 64, 64, 3) uint8."""
    rng = np.random.default_rng(seed)
    labels = grid.all_values().numpy()
    images = rng.integers(0, 256, (grid.num_points, 64, 64, 3), dtype=np.uint8)
    order = rng.permutation(grid.num_points)
    with h5py.File(path, "w") as f:
        f.create_dataset("images", data=images[order])
        f.create_dataset("labels", data=labels[order])
    return images


@pytest.fixture(name="write_shapes_file")
def _write_shapes_file_fixture():
    """`write_shapes_file`, as a fixture (needs no import of the ``tests`` package)."""
    return write_shapes_file
