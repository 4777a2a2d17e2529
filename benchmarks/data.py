"""Deterministic problem data: the same tensors in every harness and every run.

Regression (group Lasso, ridge): per task, ``F ~ N(0, 1)`` ``(n, m)``, a ground truth with
``max(1, m // 8)`` active features at random positions, and ``Y = F W* + noise`` at a 0.1
noise-to-signal norm ratio (the paper's protocol). λ is ``lam · λ_max`` per task, computed in
float64 and detached. SVM: ``k`` classes of ``n / k`` samples, features ``(μ_y + ε) / sqrt(m)``
with Gaussian class means ``μ``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
from torch import Tensor

from benchmarks.cases import SVM_LAM2, Problem
from sparselayers.problems import GROUP_LASSO, RIDGE

DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class RegressionData:
    """``features (T, n, m)``, ``targets (T, n)`` or ``(T, n, k)`` in the problem's dtype;
    ``lam (T,)`` absolute λ in float64; ``cotangent`` weights-shaped, float64 (the fixed upstream
    gradient of every VJP)."""

    features: Tensor
    targets: Tensor
    lam: Tensor
    cotangent: Tensor


@dataclass(frozen=True)
class SvmData:
    """``features (T, n, m)``, ``labels (T, n)`` int64, scalar ``lam1`` and ``lam2``,
    ``cotangent (T, k, m)`` float64."""

    features: Tensor
    labels: Tensor
    lam1: float
    lam2: float
    cotangent: Tensor


@lru_cache(maxsize=8)
def regression_data(problem: Problem) -> RegressionData:
    """Data of a ``group_lasso``, ``ridge`` or ``l21`` problem (deterministic)."""
    g = torch.Generator().manual_seed(1234 + 7 * problem.n + 131 * problem.m + problem.k)
    T, n, m, k = problem.T, problem.n, problem.m, problem.k
    F = torch.randn(T, n, m, generator=g, dtype=torch.float64)
    active = max(1, m // 8)
    W = torch.zeros(T, k, m, dtype=torch.float64)
    for t in range(T):
        where = torch.randperm(m, generator=g)[:active]
        W[t, :, where] = torch.randn(k, active, generator=g, dtype=torch.float64) + 1.0
    signal = F @ W.mT
    noise = torch.randn(T, n, k, generator=g, dtype=torch.float64)
    noise = (
        noise
        * 0.1
        * signal.norm(dim=(-2, -1), keepdim=True)
        / noise.norm(dim=(-2, -1), keepdim=True)
    )
    dtype = DTYPES[problem.dtype]
    F, Y = F.to(dtype), (signal + noise).to(dtype)
    F64, Y64 = F.double(), Y.double()
    scale = RIDGE if problem.layer == "ridge" else GROUP_LASSO
    lam = problem.lam * scale.lambda_max(F64, Y64)
    shape = (T, m) if k == 1 else (T, k, m)
    cotangent = torch.randn(shape, generator=g, dtype=torch.float64)
    targets = Y[..., 0] if k == 1 else Y
    return RegressionData(features=F, targets=targets, lam=lam, cotangent=cotangent)


def svm_lam1_max(features: Tensor, labels: Tensor, k: int) -> Tensor:
    """Upper bound of the smallest λ1 giving ``W = 0``, per task ``(T,)``.

    ``W = 0`` is optimal iff some Λ with rows on the simplex and ``Λ[i, y_i] = 0`` has
    ``max_j ||(Y - Λ)^T F[:, j]|| <= λ1`` (the hinge's subgradient at 0); the uniform Λ (mass
    ``1 / (k - 1)`` off the label) gives this bound, so ``lam1 >= 1`` surely gives ``W = 0``.
    """
    Y = torch.nn.functional.one_hot(labels, k).to(torch.float64)
    uniform = (1 - Y) / (k - 1)
    correlation = (Y - uniform).mT @ features.double()  # (T, k, m)
    return correlation.norm(dim=-2).amax(-1)


@lru_cache(maxsize=8)
def svm_data(problem: Problem) -> SvmData:
    """Data of an ``svm`` problem: balanced classes (``n / k`` shots), deterministic."""
    g = torch.Generator().manual_seed(4321 + 7 * problem.n + 131 * problem.m + problem.k)
    T, n, m, k = problem.T, problem.n, problem.m, problem.k
    labels = torch.arange(k).repeat_interleave(n // k).expand(T, n).contiguous()
    means = torch.randn(T, k, m, generator=g, dtype=torch.float64)
    noise = torch.randn(T, n, m, generator=g, dtype=torch.float64)
    F64 = (torch.gather(means, 1, labels[..., None].expand(T, n, m)) + noise) / m**0.5
    features = F64.to(DTYPES[problem.dtype])
    lam1 = problem.lam * float(svm_lam1_max(features, labels, k).mean())
    cotangent = torch.randn(T, k, m, generator=g, dtype=torch.float64)
    return SvmData(features=features, labels=labels, lam1=lam1, lam2=SVM_LAM2, cotangent=cotangent)
