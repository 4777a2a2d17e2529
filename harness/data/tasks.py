"""Sparse regression tasks on 3D Shapes latents (paper Appendix D.2.1, D.2.4, Fig. 9).

A task draws weights w ∈ R^6 and n latents z_i ~ p_{α,ρ}; its targets are y_i = w·z_i + ε_i with
the noise rescaled per task to a fixed noise-to-signal norm ratio r, ||ε|| = r ||Z w||, as in the
paper's code (r = 0.1). Weight distributions:

- `BernoulliGaussianWeights`: w = w̄ ⊙ s, w̄ ~ N(0, I), s_j ~ Bernoulli(p) i.i.d. conditioned on
  s ≠ 0 (the paper's main setting; an empty support is redrawn — the paper's code instead forces
  a random subset of coordinates on for the whole batch, which biases the support size).
- `BlockGaussianWeights`: s is one of the blocks {1..b}, {b+1..2b}, ... chosen uniformly
  (Appendix D.2.4, block sizes 2, 3, 6; size 6 = no sparsity).
- `LaplaceWeights`: w_j ~ Laplace(0, b) i.i.d. (Fig. 9; no exact zeros).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch


class WeightDistribution(Protocol):
    """A distribution over task weight vectors."""

    def sample(self, num_tasks: int, dim: int, generator: torch.Generator) -> torch.Tensor:
        """Weights (num_tasks, dim) float64 drawn with a CPU ``generator``."""
        ...


@dataclass(frozen=True)
class BernoulliGaussianWeights:
    """w = w̄ ⊙ s, w̄ ~ N(0, I), s ~ Bernoulli(p)^dim conditioned on a non-empty support."""

    p: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.p <= 1.0:
            raise ValueError(f"p must lie in (0, 1], got {self.p}")

    def sample(self, num_tasks: int, dim: int, generator: torch.Generator) -> torch.Tensor:
        support = torch.zeros(num_tasks, dim, dtype=torch.bool)
        empty = torch.ones(num_tasks, dtype=torch.bool)
        while empty.any():  # rejection: P(empty) = (1 - p)^dim
            draw = torch.rand(int(empty.sum()), dim, generator=generator) < self.p
            support[empty] = draw
            empty = ~support.any(1)
        return torch.randn(num_tasks, dim, generator=generator, dtype=torch.float64) * support


@dataclass(frozen=True)
class BlockGaussianWeights:
    """w = w̄ ⊙ s, s the indicator of one of dim / block_size contiguous blocks, uniformly."""

    block_size: int

    def __post_init__(self) -> None:
        if self.block_size < 1:
            raise ValueError(f"block_size must be >= 1, got {self.block_size}")

    def sample(self, num_tasks: int, dim: int, generator: torch.Generator) -> torch.Tensor:
        if dim % self.block_size:
            raise ValueError(f"block_size {self.block_size} does not divide the latent dim {dim}")
        block = torch.randint(dim // self.block_size, (num_tasks, 1), generator=generator)
        support = torch.arange(dim)[None, :] // self.block_size == block
        return torch.randn(num_tasks, dim, generator=generator, dtype=torch.float64) * support


@dataclass(frozen=True)
class LaplaceWeights:
    """w_j ~ Laplace(0, scale) i.i.d., drawn as scale · (E_1 − E_2) with E_k ~ Exp(1)."""

    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError(f"scale must be > 0, got {self.scale}")

    def sample(self, num_tasks: int, dim: int, generator: torch.Generator) -> torch.Tensor:
        e = torch.empty(2, num_tasks, dim, dtype=torch.float64).exponential_(generator=generator)
        return self.scale * (e[0] - e[1])


WEIGHT_DISTRIBUTIONS: dict[str, WeightDistribution] = {
    "bernoulli": BernoulliGaussianWeights(0.5),
    "block2": BlockGaussianWeights(2),
    "block3": BlockGaussianWeights(3),
    "block6": BlockGaussianWeights(6),
    "laplace": LaplaceWeights(1.0),
}


def weight_distribution(name: str) -> WeightDistribution:
    """The weight distribution called ``name`` (a key of `WEIGHT_DISTRIBUTIONS`)."""
    if name not in WEIGHT_DISTRIBUTIONS:
        raise ValueError(
            f"weights: unknown distribution {name!r}; choose from {list(WEIGHT_DISTRIBUTIONS)}"
        )
    return WEIGHT_DISTRIBUTIONS[name]


def make_targets(
    latents: torch.Tensor,
    weights: torch.Tensor,
    noise_ratio: float,
    generator: torch.Generator,
) -> torch.Tensor:
    """Targets y = Z w + ε with ||ε||₂ = noise_ratio · ||Z w||₂ per task.

    Args:
        latents: Z, (..., n, d).
        weights: w, (..., d).
        noise_ratio: r >= 0, the noise-to-signal norm ratio.
        generator: CPU generator of the Gaussian direction of ε.

    Returns:
        Targets (..., n) in the dtype of ``latents``.
    """
    if noise_ratio < 0:
        raise ValueError(f"noise_ratio must be >= 0, got {noise_ratio}")
    signal = (latents @ weights.unsqueeze(-1)).squeeze(-1)
    noise = torch.randn(signal.shape, generator=generator, dtype=torch.float64).to(signal)
    scale = noise_ratio * signal.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
    return signal + scale * noise
