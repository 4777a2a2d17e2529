"""Result types of the functional forms."""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor


@dataclass(frozen=True)
class RegressionSolution:
    """Solution of a batch of regression problems (group Lasso or ridge).

    Attributes:
        weights: ``(..., m)`` when the targets were ``(..., n)``, else ``(..., k, m)``;
            differentiable with respect to features, targets and ``lam``.
        gap: ``(...)`` relative duality gap ``(P(W) - D) / P(0)`` reached by each task.
        n_iter: ``(...)`` iterations used by each task (0 for a closed-form solve).
        converged: ``(...)`` bool, ``gap <= tol``.
    """

    weights: Tensor
    gap: Tensor
    n_iter: Tensor
    converged: Tensor

    @property
    def support(self) -> Tensor:
        """``(..., m)`` bool: features with a nonzero weight (in any output)."""
        w = self.weights
        return w != 0 if w.ndim == self.gap.ndim + 1 else (w != 0).any(-2)


@dataclass(frozen=True)
class SVMSolution:
    """Solution of a batch of multiclass SVM heads solved in the dual.

    Attributes:
        weights: ``W (..., k, m)`` primal weights (``logits = query_features @ W.mT``),
            differentiable with respect to features, labels' features and ``lam1``/``lam2``.
        dual: ``Λ (..., n, k)``, each row on the probability simplex.
        gap: ``(...)`` relative duality gap ``(P(W) - D(Λ)) / n``.
        n_iter: ``(...)`` iterations used by each task.
        converged: ``(...)`` bool, ``gap <= tol``.
    """

    weights: Tensor
    dual: Tensor
    gap: Tensor
    n_iter: Tensor
    converged: Tensor

    @property
    def support(self) -> Tensor:
        """``(..., m)`` bool: feature columns used by the head (nonzero ``W[:, j]``)."""
        return (self.weights != 0).any(-2)

    @property
    def column_sparsity(self) -> Tensor:
        """``(...)``: fraction of feature columns of ``W`` that are exactly zero."""
        return 1 - self.support.to(self.weights.dtype).mean(-1)
