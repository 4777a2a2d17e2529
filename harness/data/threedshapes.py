"""Reader of the real 3D Shapes file, ``3dshapes.h5`` (Burgess & Kim, 2018).

Format: an HDF5 file with two datasets, ``images`` (N, 64, 64, 3) uint8 and ``labels`` (N, 6)
float64 holding the factor values of each image in the order floor_hue, wall_hue, object_hue,
scale, shape, orientation. The real file has N = 480,000 rows, one per point of the factor grid.
Any file whose labels form a complete product grid (each combination once, in any row order) is
accepted, which is how the loader is tested on small files.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import torch

from harness.data.factors import FACTOR_NAMES, FactorGrid

FILENAME = "3dshapes.h5"
EXPECTED = (
    f"an HDF5 file {FILENAME!r} with datasets 'images' (N, 64, 64, 3) uint8 and 'labels' (N, 6) "
    f"float64 holding {', '.join(FACTOR_NAMES)} of every point of the factor grid once"
)


def resolve_path(data_dir: str | Path) -> Path:
    """The path of ``3dshapes.h5`` given a directory that holds it (or the file itself)."""
    path = Path(data_dir).expanduser()
    if path.is_dir():
        path = path / FILENAME
    if not path.is_file():
        raise FileNotFoundError(
            f"data_dir: no 3D Shapes file at {str(path)!r}; expected {EXPECTED}"
        )
    return path


class ThreeDShapesFile:
    """Images and factor grid of a ``3dshapes.h5`` file.

    Args:
        data_dir: directory holding ``3dshapes.h5``, or the path of the file.
        in_memory: read every image into memory (5.9 GB for the real file) instead of reading the
            requested rows from disk on each call.
        device: where `images` returns its tensors.

    Raises:
        FileNotFoundError: no file at ``data_dir``.
        ValueError: the file is not in the expected format (the message says what was expected).
    """

    def __init__(
        self, data_dir: str | Path, in_memory: bool = False, device: torch.device | str = "cpu"
    ) -> None:
        self.path = resolve_path(data_dir)
        self.device = torch.device(device)
        try:
            self._file = h5py.File(self.path, "r")
        except OSError as err:
            raise ValueError(
                f"data_dir: {str(self.path)!r} is not readable HDF5 ({err}); expected {EXPECTED}"
            ) from err
        try:
            self._images, labels = self._validated_datasets()
            self.grid, self._row_of_point = _grid_from_labels(labels)
            if in_memory:
                self._images = self._images[()]
                self._file.close()
        except Exception:
            self._file.close()
            raise

    def _validated_datasets(self) -> tuple[h5py.Dataset, np.ndarray]:
        def fail(problem: str) -> ValueError:
            return ValueError(f"data_dir: {str(self.path)!r}: {problem}; expected {EXPECTED}")

        for key in ("images", "labels"):
            if not isinstance(self._file.get(key), h5py.Dataset):
                raise fail(f"no dataset {key!r} (found keys {sorted(self._file.keys())})")
        images, labels = self._file["images"], self._file["labels"]
        if images.ndim != 4 or images.shape[1:] != (64, 64, 3) or images.dtype != np.uint8:
            raise fail(f"'images' is {images.shape} {images.dtype}")
        if labels.shape != (images.shape[0], len(FACTOR_NAMES)) or labels.dtype.kind != "f":
            raise fail(f"'labels' is {labels.shape} {labels.dtype} for {images.shape[0]} images")
        values = labels[()].astype(np.float64)
        if not np.isfinite(values).all():
            raise fail("'labels' holds NaN or infinite values")
        return images, values

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(3, H, W) of one image."""
        return (3, 64, 64)

    def images(self, index: torch.Tensor) -> torch.Tensor:
        """Images of flat grid indices ``index`` (...,): float32 (..., 3, 64, 64) in [0, 1]."""
        index = torch.as_tensor(index).long().cpu()
        if index.numel() and (index.min() < 0 or index.max() >= self.grid.num_points):
            raise ValueError(f"index: grid indices must lie in [0, {self.grid.num_points})")
        rows = self._row_of_point[index.reshape(-1).numpy()]
        # h5py reads increasing, unique rows; np.unique sorts them and maps back.
        unique_rows, inverse = np.unique(rows, return_inverse=True)
        pixels = torch.from_numpy(np.asarray(self._images[unique_rows]))[torch.from_numpy(inverse)]
        out = pixels.to(self.device).permute(0, 3, 1, 2).float().div_(255.0)
        return out.reshape(*index.shape, *self.image_shape)

    def close(self) -> None:
        """Close the HDF5 file (a no-op after ``in_memory=True``)."""
        self._file.close()

    def __enter__(self) -> ThreeDShapesFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _grid_from_labels(labels: np.ndarray) -> tuple[FactorGrid, np.ndarray]:
    """Factor grid of (N, 6) labels and, for each flat grid index, the row that holds it."""
    # Round so that values written with different float rounding still fall on one grid value.
    rounded = np.round(labels, 6)
    values = tuple(np.unique(rounded[:, i]) for i in range(rounded.shape[1]))
    grid = FactorGrid(values=values)
    factor_index = np.stack([np.searchsorted(v, rounded[:, i]) for i, v in enumerate(values)], 1)
    flat = grid.ravel(torch.from_numpy(factor_index)).numpy()
    if grid.num_points != labels.shape[0] or np.unique(flat).size != labels.shape[0]:
        raise ValueError(
            f"data_dir: 'labels' do not hold each point of a product grid exactly once (grid "
            f"sizes {grid.sizes}, {grid.num_points} points, {labels.shape[0]} rows); "
            f"expected {EXPECTED}"
        )
    row_of_point = np.empty(labels.shape[0], dtype=np.int64)
    row_of_point[flat] = np.arange(labels.shape[0])
    return grid, row_of_point
