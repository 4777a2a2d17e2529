"""Deterministic problem data: the same tensors in every harness and every run.

Regression (group Lasso, ridge): per task, ``F ~ N(0, 1)`` ``(n, m)``, a ground truth with
``max(1, m // 8)`` active features at random positions, and ``Y = F W* + noise`` at a 0.1
noise-to-signal norm ratio (the paper's protocol). λ is ``lam · λ_max`` per task, computed in
float64 and detached, with the library's public scales (``sl.functional.group_lasso_lambda_max``,
``sl.functional.ridge_scale``). SVM: ``k`` classes of ``n / k`` samples, features
``(μ_y + ε) / sqrt(m)`` with Gaussian class means ``μ``; ``λ1 = lam · λ1_max`` with the *exact*
``λ1_max`` of ``sl.functional.svm_lambda1_max`` (the smallest λ1 giving ``W = 0``, averaged over
the batch's tasks; see :data:`LAM1_MAX_TOL`). Earlier results divided by an upper bound of
λ1_max (the uniform dual point), 1.2–1.3× the exact value on the quick sizes, so the same
fraction meant a larger λ1 there: their ``λ1 / λ1_max`` are not comparable with these. The
MetaOptNet problems (``dual_ridge > 0``, ``lam = 0``) share the data of the plain heads.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache, lru_cache

import torch
from torch import Tensor

import sparselayers as sl
from benchmarks.cases import SVM_LAM2, Problem

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
    if problem.layer == "ridge":
        scale = sl.functional.ridge_scale(F64)
    else:
        scale = sl.functional.group_lasso_lambda_max(F64, Y64)
    lam = problem.lam * scale
    shape = (T, m) if k == 1 else (T, k, m)
    cotangent = torch.randn(shape, generator=g, dtype=torch.float64)
    targets = Y[..., 0] if k == 1 else Y
    return RegressionData(features=F, targets=targets, lam=lam, cotangent=cotangent)


LAM1_MAX_TOL = 1e-2
"""Relative duality gap to which ``sl.functional.svm_lambda1_max`` is solved here. It returns a
certified upper bound, within about this fraction of the exact λ1_max (0.4 % above the value at
tol = 1e-3 for n = 25, m = 16,000). Even so it is the costliest step of the SVM data: about 1–2
minutes per size at m = 16,000 on one core (the library's default 1e-4 takes several times
longer), once per process, for a scale that only sets λ1 / λ1_max."""


@cache
def _svm_samples(T: int, n: int, m: int, k: int, dtype: str) -> tuple[Tensor, Tensor, Tensor]:
    """``(features, labels, cotangent)`` of one SVM size, shared by its problems (every λ1
    fraction and MetaOptNet's problem solve the same tasks)."""
    g = torch.Generator().manual_seed(4321 + 7 * n + 131 * m + k)
    labels = torch.arange(k).repeat_interleave(n // k).expand(T, n).contiguous()
    means = torch.randn(T, k, m, generator=g, dtype=torch.float64)
    noise = torch.randn(T, n, m, generator=g, dtype=torch.float64)
    F64 = (torch.gather(means, 1, labels[..., None].expand(T, n, m)) + noise) / m**0.5
    cotangent = torch.randn(T, k, m, generator=g, dtype=torch.float64)
    return F64.to(DTYPES[dtype]), labels, cotangent


@cache
def mean_lambda1_max(T: int, n: int, m: int, k: int, dtype: str) -> float:
    """Mean over the tasks of the exact λ1_max (``sl.functional.svm_lambda1_max``, the smallest
    λ1 with ``W = 0``) of one SVM size; computed once per process (an iterative solve)."""
    features, labels, _ = _svm_samples(T, n, m, k, dtype)
    # In the data's dtype: float32 resolves a 1e-2 gap, and is the faster pass over F.
    lam1_max = sl.functional.svm_lambda1_max(features, labels, num_classes=k, tol=LAM1_MAX_TOL)
    return float(lam1_max.mean())


def svm_data(problem: Problem) -> SvmData:
    """Data of an ``svm`` problem: balanced classes (``n / k`` shots), deterministic;
    ``lam1 = problem.lam · λ1_max`` (0 without computing λ1_max when ``problem.lam = 0``)."""
    size = (problem.T, problem.n, problem.m, problem.k, problem.dtype)
    features, labels, cotangent = _svm_samples(*size)
    lam1 = problem.lam * mean_lambda1_max(*size) if problem.lam > 0 else 0.0
    return SvmData(features=features, labels=labels, lam1=lam1, lam2=SVM_LAM2, cotangent=cotangent)
