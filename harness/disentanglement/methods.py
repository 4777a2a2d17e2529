"""The methods compared in Section 5.1, each an inner layer of `sparselayers` and an outer loss.

Given features F = f_θ(X) ∈ R^{n×m} and targets y ∈ R^n of a task, the inner layer returns
Ŵ(F, y) ∈ R^m and the outer loss is (1/n)||y − F Ŵ||² (+ an outer penalty), averaged over tasks:

- ``inner-lasso`` (Problem 6): Ŵ = argmin 1/(2n)||y − F W||² + λ||W||₁, λ = ε·λ_max with
  λ_max = ||Fᵀy||_∞/n detached (`GroupLassoRegression(relative=True)`).
- ``inner-ridge``: Ŵ = argmin 1/(2n)||y − F W||² + (λ/2)||W||², λ = ε·||F||²_F/n
  (`RidgeRegression(relative=True)`); ε = 0 is the unregularized least-squares baseline.
- ``inner-ridge-ica``: trained as inner-ridge; at evaluation FastICA, fit on samples of p(z), is
  applied to the learned features (the ICA baseline of Fig. 4).
- ``outer-lasso`` (Problem 62): least-squares inner layer (ridge with λ = 0) and the outer
  penalty λ Σ_t ||Ŵ_t||₁ (`L21OuterPenalty`, group_dim=None), λ absolute (not relative).
- ``outer-ridge`` (Fig. 10): the same with the L2 norm λ Σ_t ||Ŵ_t||₂ in place of the L1 norm;
  ``outer-ridge-ica`` adds FastICA at evaluation, as inner-ridge-ica does.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

import sparselayers as sl

METHODS: tuple[str, ...] = (
    "inner-lasso",
    "inner-ridge",
    "inner-ridge-ica",
    "outer-lasso",
    "outer-ridge",
    "outer-ridge-ica",
)
OUTER: tuple[str, ...] = ("outer-lasso", "outer-ridge", "outer-ridge-ica")


@dataclass(frozen=True)
class MethodConfig:
    """A method and its regularization.

    Attributes:
        name: one of `METHODS`.
        lam: ε = λ/λ_max for the inner methods, the absolute outer λ for the outer ones.
        backward: "implicit" or "unroll" (differentiation of the inner layer).
        tol: relative duality gap at which the inner solver stops.
        max_iter: iteration budget of the inner solver.
    """

    name: str
    lam: float
    backward: str = "implicit"
    tol: float = 1e-5
    max_iter: int = 5000

    def __post_init__(self) -> None:
        if self.name not in METHODS:
            raise ValueError(f"method: unknown {self.name!r}; choose from {list(METHODS)}")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        if self.backward not in ("implicit", "unroll"):
            raise ValueError(f"backward must be 'implicit' or 'unroll', got {self.backward!r}")

    @property
    def uses_ica(self) -> bool:
        """Whether evaluation applies FastICA to the features."""
        return self.name.endswith("-ica")

    @property
    def trained_method(self) -> str:
        """The method trained for this one (FastICA only enters the evaluation)."""
        return self.name.removesuffix("-ica")


class TaskRegression(nn.Module):
    """Inner layer + outer loss of one method.

    ``forward(features (T, n, m), targets (T, n))`` returns ``(loss, weights)``: the scalar
    outer loss averaged over the T tasks and the inner solutions ``(T, m)``.
    """

    def __init__(self, config: MethodConfig) -> None:
        super().__init__()
        self.config = config
        kwargs = {"backward": config.backward, "tol": config.tol, "max_iter": config.max_iter}
        if config.name == "inner-lasso":
            self.inner: nn.Module = sl.GroupLassoRegression(config.lam, relative=True, **kwargs)
        elif config.name in OUTER:
            self.inner = sl.RidgeRegression(0.0, relative=True, **kwargs)
        else:
            self.inner = sl.RidgeRegression(config.lam, relative=True, **kwargs)
        lam_outer = config.lam if config.name in OUTER else 0.0
        # The L2 norm of a task's (m,) weights is the L21 norm of its (m, 1) single group.
        self.penalty = sl.L21OuterPenalty(lam_outer, group_dim=None)
        self.unsqueeze = config.trained_method == "outer-ridge"
        if self.unsqueeze:
            self.penalty = sl.L21OuterPenalty(lam_outer, group_dim=-2)

    def forward(self, features: Tensor, targets: Tensor) -> tuple[Tensor, Tensor]:
        weights = self.inner(features, targets)  # (T, m)
        prediction = (features @ weights.unsqueeze(-1)).squeeze(-1)  # (T, n)
        mse = (prediction - targets).pow(2).mean(-1)  # (T,)
        penalty = self.penalty(weights.unsqueeze(-1) if self.unsqueeze else weights)
        loss = (mse + penalty).mean()
        return loss, weights

    @torch.no_grad()
    def mse(self, features: Tensor, targets: Tensor) -> Tensor:
        """The outer mean squared error alone (no penalty), averaged over tasks."""
        weights = self.inner(features, targets)
        prediction = (features @ weights.unsqueeze(-1)).squeeze(-1)
        return (prediction - targets).pow(2).mean()
