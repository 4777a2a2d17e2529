"""The least-squares datafit shared by the regression problems.

    f(B) = 1/(2n) ||Y - F B||_F^2,    F (..., n, m), Y (..., n, k), B (..., m, k)

``B`` is the transpose of the public ``W`` (k x m): rows of ``B`` are the feature groups.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sparselayers._validation import check_values
from sparselayers.ops.structured import kron_identity
from sparselayers.ops.support_solve import solve_on_support_checked


def times(F: Tensor, B: Tensor) -> Tensor:
    """``F @ B`` for ``F (..., n, m)``, ``B (..., m, k)``.

    With one output (k = 1) the product is a batched matrix-vector product, which CPU BLAS runs
    5-10x slower as ``F @ B`` than as the row vector ``Bᵀ`` times ``Fᵀ``, and that 1.5-2x
    faster than a broadcast multiply-and-sum (measured for T = 64, n = 50, m = 8 ... 256 and
    n = 120, m = 100, float32 and float64, one thread).
    """
    if B.shape[-1] == 1:
        return (B.mT @ F.mT).mT
    return F @ B


def transposed_times(F: Tensor, R: Tensor) -> Tensor:
    """``F^T @ R`` for ``F (..., n, m)``, ``R (..., n, k)`` (see :func:`times`)."""
    if R.shape[-1] == 1:
        return (R.mT @ F).mT
    return F.mT @ R


def value(B: Tensor, F: Tensor, Y: Tensor) -> Tensor:
    """``1/(2n) ||Y - F B||^2`` per task, shape ``(...)``."""
    n = F.shape[-2]
    R = Y - times(F, B)
    return (R * R).sum((-2, -1)) / (2 * n)


def gradient(B: Tensor, F: Tensor, Y: Tensor) -> Tensor:
    """``F^T (F B - Y) / n``, shape ``(..., m, k)``."""
    n = F.shape[-2]
    return transposed_times(F, times(F, B) - Y) / n


def gram(F: Tensor) -> Tensor:
    """``G = F^T F / n``, shape ``(..., m, m)``."""
    return F.mT @ F / F.shape[-2]


def hessian(F: Tensor, k: int) -> Tensor:
    """Hessian of ``f`` in the row-major flattening of ``B``: ``G ⊗ I_k``, ``(..., mk, mk)``."""
    return kron_identity(gram(F), k)


def gradient_vjp(B: Tensor, F: Tensor, Y: Tensor, u: Tensor) -> tuple[Tensor, Tensor]:
    """``u``'s vector-Jacobian product with :func:`gradient` in ``(F, Y)``: with
    ``R = F B - Y``, ``dF = (R u^T + F u B^T) / n`` and ``dY = -F u / n``."""
    n = F.shape[-2]
    R = times(F, B) - Y
    Fu = times(F, u)
    if B.shape[-1] == 1:
        return (R * u.mT + Fu * B.mT) / n, -Fu / n
    return (R @ u.mT + Fu @ B.mT) / n, -Fu / n


def cvxpy_form(n: int, m: int, k: int, penalty: Callable):
    """``f(B) + penalty(B, lam)`` in cvxpy (DPP): parameters ``[F, Y, lam]``, variable ``B``."""
    import cvxpy as cp

    F = cp.Parameter((n, m))
    Y = cp.Parameter((n, k))
    lam = cp.Parameter(nonneg=True)
    B = cp.Variable((m, k))
    objective = cp.sum_squares(Y - F @ B) / (2 * n) + penalty(B, lam)
    return cp.Problem(cp.Minimize(objective)), [F, Y, lam], [B]


def lipschitz(F: Tensor) -> Tensor:
    """Largest eigenvalue of ``F^T F / n`` per task (the Lipschitz constant of ``grad f``).

    Computed on the smaller of ``F^T F`` and ``F F^T`` (same nonzero spectrum).
    """
    n, m = F.shape[-2:]
    small = F.mT @ F if m <= n else F @ F.mT
    return torch.linalg.eigvalsh(small)[..., -1].clamp_min(torch.finfo(F.dtype).tiny) / n


def least_squares_value(F: Tensor, Y: Tensor) -> Tensor:
    """``min_B f(B) = 1/(2n) ||(I - F F^+) Y||^2`` per task (the exact unregularized optimum)."""
    n = F.shape[-2]
    R = Y - F @ (torch.linalg.pinv(F) @ Y)
    return (R * R).sum((-2, -1)) / (2 * n)


def null_value(Y: Tensor) -> Tensor:
    """``f(0) = ||Y||^2 / (2n)``: the scale against which duality gaps are made relative."""
    n = Y.shape[-2]
    return (Y * Y).sum((-2, -1)) / (2 * n)


class LeastSquaresProblem:
    """What the regression problems share: parameters ``(F, Y, lam)``, a zero start, no checks
    beyond NaN/Inf and signs, the Newton polish's solve on the support, and the cvxpy
    binding."""

    param_names = ("features", "targets", "lam")

    @staticmethod
    def initial(F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
        """Starting point of the iterative solver: ``B = 0``, ``(..., m, k)``."""
        return F.new_zeros(*F.shape[:-2], F.shape[-1], Y.shape[-1])

    @staticmethod
    def validate(F: Tensor, Y: Tensor, lam: Tensor) -> None:
        """NaN/Inf in any parameter (the signs of ``lam`` are checked with its shape)."""
        check_values(features=F, targets=Y, lam=lam)

    @classmethod
    def solve_support_checked(cls, B: Tensor, v: Tensor, *params: Tensor):
        """The reduced Hessian, formed and solved on the support (no fallback)."""
        H = cls.reduced_hessian(B, *params)
        return solve_on_support_checked(H, cls.active(B, *params), v)

    @staticmethod
    def cvxpy_sizes(F: Tensor, Y: Tensor, lam: Tensor) -> tuple[int, int, int]:
        return (F.shape[-2], F.shape[-1], Y.shape[-1])

    @staticmethod
    def cvxpy_arguments(F: Tensor, Y: Tensor, lam: Tensor) -> tuple[Tensor, ...]:
        return (F, Y, lam)
