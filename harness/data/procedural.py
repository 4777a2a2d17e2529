"""The procedural 3D Shapes dataset: every grid point rendered on demand (`harness.data.renderer`).

An image is linear in the colours of the scene's surfaces, so the dataset ray-casts the geometry
of each (scale, shape, orientation) combination once — 8 x 4 x 15 = 480 scenes, ~24 MB of float32
layers, about a second on two CPU cores — and composites any image from its cached layers and
its three hues. Composited images equal `render` of the same factors exactly (up to float
rounding), at the cost of a gather and a (3 x 3) colour product per pixel.
"""

from __future__ import annotations

import torch

from harness.data.factors import FactorGrid, shapes3d_grid
from harness.data.renderer import SceneConfig, composite, render_layers


class ProceduralShapes:
    """Images of the grid points of a `FactorGrid`, rendered from cached geometry layers.

    Args:
        grid: the factor grid; the 3D Shapes grid by default.
        scene: renderer settings; `SceneConfig()` by default.
        device: where layers are cached and images produced.
    """

    def __init__(
        self,
        grid: FactorGrid | None = None,
        scene: SceneConfig | None = None,
        device: torch.device | str = "cpu",
    ) -> None:
        self.grid = grid or shapes3d_grid()
        self.scene = scene or SceneConfig()
        self.device = torch.device(device)
        self._geometry_sizes = self.grid.sizes[3:]
        geometry = torch.cartesian_prod(
            *(torch.as_tensor(v, dtype=torch.float32) for v in self.grid.values[3:])
        ).reshape(-1, 3)
        self._layers = render_layers(geometry.to(self.device), self.scene)  # (G, 3, H, W)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(3, H, W) of one image."""
        size = self.scene.image_size
        return (3, size, size)

    def images(self, index: torch.Tensor) -> torch.Tensor:
        """Images of flat grid indices ``index`` (...,): float32 (..., 3, H, W) in [0, 1]."""
        index = torch.as_tensor(index, device=self.device).long()
        if index.numel() and (index.min() < 0 or index.max() >= self.grid.num_points):
            raise ValueError(f"index: grid indices must lie in [0, {self.grid.num_points})")
        flat = index.reshape(-1)
        factor_index = self.grid.unravel(flat)
        hues = self.grid.values_at(flat, dtype=torch.float32)[:, :3]
        geometry = (
            factor_index[:, 3] * self._geometry_sizes[1] + factor_index[:, 4]
        ) * self._geometry_sizes[2] + factor_index[:, 5]
        out = composite(self._layers[geometry], hues, self.scene)
        return out.reshape(*index.shape, *self.image_shape)
