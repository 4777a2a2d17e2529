"""The factor grid of 3D Shapes (Burgess & Kim, 2018; paper Appendix D.2.1).

Six factors, each on a finite grid of values; the dataset holds every combination exactly once.
Grid points are numbered in mixed radix with the first factor slowest and the last (orientation)
fastest, the order in which ``3dshapes.h5`` stores its images. Values are those stored in the
``labels`` of the real file: hues ``0.0, 0.1, ..., 0.9`` (hue wraps around, so 1.0 is not used),
scale ``linspace(0.75, 1.25, 8)``, shape ``0, 1, 2, 3`` (cube, cylinder, sphere, capsule),
orientation ``linspace(-30, 30, 15)`` degrees.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

FACTOR_NAMES: tuple[str, ...] = (
    "floor_hue",
    "wall_hue",
    "object_hue",
    "scale",
    "shape",
    "orientation",
)
SHAPE_NAMES: tuple[str, ...] = ("cube", "cylinder", "sphere", "capsule")


@dataclass(frozen=True, eq=False)
class FactorGrid:
    """A product grid of factor values.

    Attributes:
        values: one 1-D float64 array of increasing values per factor, in `FACTOR_NAMES` order.
    """

    values: tuple[np.ndarray, ...]

    def __post_init__(self) -> None:
        if len(self.values) != len(FACTOR_NAMES):
            raise ValueError(
                f"values: expected {len(FACTOR_NAMES)} factors, got {len(self.values)}"
            )
        for name, v in zip(FACTOR_NAMES, self.values, strict=True):
            if v.ndim != 1 or v.size == 0 or np.any(np.diff(v) <= 0):
                raise ValueError(
                    f"values: factor {name!r} must be a non-empty increasing 1-D array"
                )

    @property
    def sizes(self) -> tuple[int, ...]:
        """Number of values of each factor, e.g. ``(10, 10, 10, 8, 4, 15)``."""
        return tuple(int(v.size) for v in self.values)

    @property
    def num_points(self) -> int:
        """Number of grid points (480,000 for 3D Shapes)."""
        return int(np.prod(self.sizes))

    @property
    def gaps(self) -> np.ndarray:
        """Gap Δz_i between contiguous values of each factor, shape (6,) (0 for a single value)."""
        return np.array([v[1] - v[0] if v.size > 1 else 0.0 for v in self.values])

    def unravel(self, index: torch.Tensor) -> torch.Tensor:
        """Flat grid indices (...,) -> per-factor value indices (..., 6), int64."""
        return torch.stack(torch.unravel_index(index.long(), self.sizes), dim=-1)

    def ravel(self, factor_index: torch.Tensor) -> torch.Tensor:
        """Per-factor value indices (..., 6) -> flat grid indices (...,), int64."""
        strides = np.cumprod((1, *self.sizes[::-1]))[:-1][::-1].copy()
        strides_t = torch.as_tensor(strides, dtype=torch.long, device=factor_index.device)
        return (factor_index.long() * strides_t).sum(-1)

    def values_at(self, index: torch.Tensor, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Factor values (..., 6) of the flat grid indices ``index`` (...,)."""
        factor_index = self.unravel(index)
        columns = [
            torch.as_tensor(v, dtype=dtype, device=index.device)[factor_index[..., i]]
            for i, v in enumerate(self.values)
        ]
        return torch.stack(columns, dim=-1)

    def all_values(self, dtype: torch.dtype = torch.float64) -> torch.Tensor:
        """Factor values of every grid point, shape (num_points, 6), in flat-index order."""
        return self.values_at(torch.arange(self.num_points), dtype=dtype)


def shapes3d_grid() -> FactorGrid:
    """The grid of the real 3D Shapes dataset: sizes (10, 10, 10, 8, 4, 15)."""
    hue = np.arange(10) / 10.0
    return FactorGrid(
        values=(
            hue,
            hue.copy(),
            hue.copy(),
            np.linspace(0.75, 1.25, 8),
            np.arange(4, dtype=np.float64),
            np.linspace(-30.0, 30.0, 15),
        )
    )
