"""Seeded problem data of the device benchmarks (`benchmarks.syncs`, `benchmarks.gpu`).

Self-contained on purpose (the registry's `benchmarks.data` evolves with its families); the
recipe is the same as there. Group Lasso regression, per task: ``F ~ N(0, 1)`` ``(n, m)``, a
true weight vector with ``max(1, m // 8)`` nonzeros (``sparse``) or ``round(0.3 m)``
(``dense``, support near n) at random positions, values ``N(0, 1) + 1``, and
``Y = F w + ε`` at a 0.1 noise-to-signal norm ratio; λ = 0.1 λ_max is applied by the layer
(``relative=True``). SVM head: ``k`` classes of ``shot`` samples, features
``(μ_y + ε) / √m`` with Gaussian class means ``μ``. Everything is drawn in float64 on the CPU
from a seed that depends on the shape only, then cast and moved, so CPU and CUDA runs solve the
same problems.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

DENSE_FRACTION = 0.3
TRUTHS = ("sparse", "dense")


@dataclass(frozen=True)
class Regression:
    """A batch of group-Lasso regression tasks: T tasks of n samples, m features."""

    T: int
    n: int
    m: int
    truth: str = "sparse"

    def __post_init__(self) -> None:
        if self.truth not in TRUTHS:
            raise ValueError(f"truth: expected one of {list(TRUTHS)}, got {self.truth!r}")

    @property
    def label(self) -> str:
        return f"T={self.T} n={self.n} m={self.m} {self.truth}"

    def active(self) -> int:
        """Nonzeros of each true weight vector."""
        if self.truth == "dense":
            return max(1, round(DENSE_FRACTION * self.m))
        return max(1, self.m // 8)

    def data(self, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        """``features (T, n, m)``, ``targets (T, n)`` and a fixed cotangent ``(T, m)``."""
        g = torch.Generator().manual_seed(1000 + 7 * self.n + 131 * self.m + self.T)
        F = torch.randn(self.T, self.n, self.m, generator=g, dtype=torch.float64)
        W = torch.zeros(self.T, self.m, dtype=torch.float64)
        k = self.active()
        for t in range(self.T):
            where = torch.randperm(self.m, generator=g)[:k]
            W[t, where] = torch.randn(k, generator=g, dtype=torch.float64) + 1.0
        signal = (F @ W.unsqueeze(-1)).squeeze(-1)
        noise = torch.randn(self.T, self.n, generator=g, dtype=torch.float64)
        noise *= 0.1 * signal.norm(dim=-1, keepdim=True) / noise.norm(dim=-1, keepdim=True)
        cotangent = torch.randn(self.T, self.m, generator=g, dtype=torch.float64)
        to = {"device": device, "dtype": dtype}
        return F.to(**to), (signal + noise).to(**to), cotangent.to(**to)


@dataclass(frozen=True)
class Episodes:
    """A batch of T episodes of ``way``-way ``shot``-shot support sets with m features."""

    T: int
    way: int
    shot: int
    m: int

    @property
    def label(self) -> str:
        return f"{self.T}×{self.way}-way {self.shot}-shot m={self.m}"

    def data(self, device: torch.device, dtype: torch.dtype) -> tuple[Tensor, Tensor, Tensor]:
        """``features (T, n, m)``, ``labels (T, n)`` int64 and a cotangent ``(T, way, m)``."""
        n = self.way * self.shot
        g = torch.Generator().manual_seed(4000 + 7 * n + 131 * self.m + self.T)
        labels = torch.arange(self.way).repeat_interleave(self.shot).expand(self.T, n)
        means = torch.randn(self.T, self.way, self.m, generator=g, dtype=torch.float64)
        noise = torch.randn(self.T, n, self.m, generator=g, dtype=torch.float64)
        index = labels[..., None].expand(self.T, n, self.m)
        F = (torch.gather(means, 1, index) + noise) / self.m**0.5
        cotangent = torch.randn(self.T, self.way, self.m, generator=g, dtype=torch.float64)
        to = {"device": device, "dtype": dtype}
        return F.to(**to), labels.contiguous().to(device), cotangent.to(**to)
