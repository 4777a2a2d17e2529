"""Helpers shared by the harness tests (importable by spawned test processes)."""

from pathlib import Path

import h5py
import numpy as np

from harness.data.factors import FactorGrid


def tiny_grid() -> FactorGrid:
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
