"""Distributions p_{α,ρ}(z) over the 3D Shapes latent support (paper Appendix D.2.1).

Noise on latents. Each grid point z ∈ Z is moved once by u_z ~ U(∏_i [−α Δz_i/2, α Δz_i/2]), with
Δz_i the gap between contiguous values of factor i, giving the support Z_α (α ∈ [0, 1] keeps
contiguous points from swapping). The draw uses a fixed seed, so f_{θ,α}(x) = f_θ(x) + u_z is a
deterministic map from images to latents. The noisy factors are then standardized to mean 0 and
variance 1 over the support, as in the paper's code (noise first, then standardization).

Correlation. p_{α,ρ}(z) ∝ N(z; 0, Σ) evaluated on the points of Z_α and normalized, with
Σ_ij = ρ + 1(i = j)(1 − ρ).
"""

from __future__ import annotations

import torch

from harness.data.factors import FactorGrid


class LatentDistribution:
    """The distribution p_{α,ρ}(z) over the noisy, standardized grid Z_α.

    Args:
        grid: the factor grid Z (raw factor values).
        alpha: latent noise level α in [0, 1].
        rho: correlation ρ in [0, 1).
        noise_seed: seed of the one-off draw of the u_z.

    Attributes:
        offsets: (num_points, 6) float64, the u_z in raw factor units.
        latents: (num_points, 6) float64, z + u_z standardized, in flat grid order.
        probabilities: (num_points,) float64, p_{α,ρ}(z) of each point (sums to 1).
    """

    def __init__(self, grid: FactorGrid, alpha: float = 0.0, rho: float = 0.0, noise_seed: int = 0):
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"alpha must lie in [0, 1], got {alpha}")
        if not 0.0 <= rho < 1.0:
            raise ValueError(f"rho must lie in [0, 1), got {rho}")
        self.grid, self.alpha, self.rho, self.noise_seed = (
            grid,
            float(alpha),
            float(rho),
            noise_seed,
        )

        raw = grid.all_values()  # (N, d)
        half_width = torch.as_tensor(alpha * grid.gaps / 2)
        generator = torch.Generator().manual_seed(noise_seed)
        uniform = torch.rand(raw.shape, generator=generator, dtype=torch.float64)
        self.offsets = (2 * uniform - 1) * half_width
        noisy = raw + self.offsets
        std = noisy.std(0, unbiased=False)
        # A factor with a single value (small test grids) has std 0 and is mapped to 0.
        self.latents = (noisy - noisy.mean(0)) / torch.where(std > 0, std, 1.0)

        dim = self.latents.shape[1]
        sigma = torch.full((dim, dim), self.rho, dtype=torch.float64)
        sigma.diagonal().fill_(1.0)
        log_density = -0.5 * (self.latents * torch.linalg.solve(sigma, self.latents.T).T).sum(1)
        self.probabilities = torch.softmax(log_density, dim=0)
        self._cdf = torch.cumsum(self.probabilities, 0)

    @property
    def dim(self) -> int:
        """Number of latent factors (6)."""
        return int(self.latents.shape[1])

    def sample(self, shape: tuple[int, ...], generator: torch.Generator) -> torch.Tensor:
        """Flat grid indices (*shape) int64, i.i.d. from p_{α,ρ}, drawn with a CPU ``generator``."""
        u = torch.rand(shape, generator=generator, dtype=torch.float64) * self._cdf[-1]
        index = torch.searchsorted(self._cdf, u, right=True)
        return index.clamp_(max=self.grid.num_points - 1)
