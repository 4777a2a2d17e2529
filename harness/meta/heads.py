"""Base-learner heads of meta-learning (paper Section 5.2, Problems 7-9).

Given support features ``F (B, n, m)`` with labels ``y (B, n)``, a head fits per-task linear
weights ``W (B, k, m)`` with a sparselayers layer and scores the queries,
``logits = s * F_query W^T`` with a learned scale ``s`` (MetaOptNet's learned temperature).

- ``svm`` with ``lam1 > 0``: the group-lasso multiclass SVM (Problem 9, Appendix C.1), whose
  zero columns ``W[:, j] = 0`` mean feature j is unused by the task. ``lam1`` is relative, as in
  the paper's Fig. 5 (``λ / λ_max``): each task's group-lasso weight is
  ``lam1 · λ1_max(task)``, with ``λ1_max`` the smallest weight giving an all-zero head
  (`sparselayers.functional.svm_lambda1_max`, computed on the detached normalised support
  features; no gradient flows through it, as the paper's Appendix D.2.3 prescribes). So
  ``lam1 > 1`` is the all-zero head for every task, by definition (at exactly 1, up to the
  inner solver's tolerance: the solution is degenerate there).
- ``svm`` with ``lam1 = 0``: the dense Crammer-Singer SVM (solved in kernel form); MetaOptNet's head
  also adds a unit ridge to its dual (``dual_ridge=1.0`` in sparselayers), left out here.
- ``ridge``: ridge regression on one-hot targets (MetaOptNet's R2-D2-style baseline).

Features are L2-normalised per sample before the head (a departure from MetaOptNet, which feeds
raw ResNet features): it bounds ``λ1_max`` by ``n √(k / (k − 1))`` whatever the backbone and
keeps the dense head's ``lam2`` meaningful across training; the learned scale ``s`` restores the
logits' range.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
import torch.nn.functional as nnf
from torch import nn

import sparselayers as sl


@dataclass(frozen=True)
class HeadConfig:
    """Configuration of a head.

    Attributes:
        kind: ``"svm"`` or ``"ridge"``.
        lam1: group-lasso weight of the SVM relative to each task's ``λ1_max`` (0 gives the
            dense SVM, ``> 1`` the all-zero head); must be 0 for ridge.
        lam2: ridge weight of the SVM, or the ridge regression's ``lam``.
        tol: relative duality-gap tolerance of the inner solver.
        max_iter: inner iteration budget.
        init_scale: initial logit scale ``s``.
        lam1_max_tol: relative duality gap of ``λ1_max`` (its certified upper bound is used).
    """

    kind: str = "svm"
    lam1: float = 0.0
    lam2: float = 1.0
    tol: float = 1e-4
    max_iter: int = 300
    init_scale: float = 10.0
    lam1_max_tol: float = 1e-2

    def __post_init__(self) -> None:
        if self.kind not in ("svm", "ridge"):
            raise ValueError(f"kind: expected 'svm' or 'ridge', got {self.kind!r}")
        if self.lam1 < 0 or self.lam2 <= 0:
            raise ValueError(f"lam1 must be >= 0 and lam2 > 0, got {self.lam1}, {self.lam2}")
        if self.kind == "ridge" and self.lam1 != 0:
            raise ValueError("lam1: the ridge head has no group-lasso term; use kind='svm'")


@dataclass(frozen=True)
class HeadOutput:
    """Query logits (B, nq, k), per-task column sparsity (B,), column usage (B, m) bool, and
    the number of tasks whose inner solver hit ``max_iter``."""

    logits: torch.Tensor
    sparsity: torch.Tensor
    used: torch.Tensor
    not_converged: int


class MetaHead(nn.Module):
    """A differentiable base learner with a learned logit scale (Problems 7-9).

    Args:
        config: the head's configuration.
        way: number of classes k per task.
    """

    def __init__(self, config: HeadConfig, way: int) -> None:
        super().__init__()
        self.config, self.way = config, way
        self.scale = nn.Parameter(torch.tensor(float(config.init_scale)))

    def forward(
        self, support: torch.Tensor, labels: torch.Tensor, query: torch.Tensor
    ) -> HeadOutput:
        """support (B, n, m), labels (B, n) int64, query (B, nq, m) -> `HeadOutput`."""
        c = self.config
        support = nnf.normalize(support, dim=-1)
        query = nnf.normalize(query, dim=-1)
        with warnings.catch_warnings():
            # Non-convergence is counted and reported per step instead of warned per call.
            warnings.simplefilter("ignore", RuntimeWarning)
            if c.kind == "svm":
                lam1: float | torch.Tensor = 0.0
                if c.lam1 > 0:
                    lam1 = c.lam1 * sl.functional.svm_lambda1_max(
                        support, labels, num_classes=self.way, tol=c.lam1_max_tol
                    )
                sol = sl.functional.group_lasso_svm_dual(
                    support,
                    labels,
                    lam1,
                    c.lam2,
                    num_classes=self.way,
                    tol=c.tol,
                    max_iter=c.max_iter,
                )
                weights, converged = sol.weights, sol.converged
            else:
                targets = nnf.one_hot(labels, self.way).to(support.dtype)
                sol = sl.functional.ridge(support, targets, c.lam2, tol=c.tol, max_iter=c.max_iter)
                weights, converged = sol.weights, sol.converged
        used = weights.detach().abs().sum(-2) > 0  # (B, m)
        sparsity = 1.0 - used.float().mean(-1)
        logits = self.scale * query @ weights.mT
        return HeadOutput(logits, sparsity, used, int((~converged.bool()).sum()))
