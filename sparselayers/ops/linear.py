"""Symmetric linear solves that stay correct on every CPU build: Cholesky, then SVD.

Every linear system the layers solve is symmetric: the ridge's normal equations and the
optimality systems on the active set (positive semidefinite Hessians, the identity off the
support). They are solved by a batched Cholesky factorization; a task whose matrix is not
positive definite (a singular active block, e.g. duplicated features) gets the minimum-norm
solution through an SVD-based pseudo-inverse instead (`pinv`).

No LU: on the torch 2.13 CPU build the batched LU (``linalg.solve``, ``solve_ex``, ``inv``,
``lu_factor``) raises "Pivots given to lu_solve must all be greater or equal to 1" or returns
garbage with ``info = 0`` on matrices of size ≳ 150 once ``torch.set_num_threads(n >= 2)`` has
been called, which users (and this project's own ``--threads`` flags) do. Cholesky and the SVD
are not affected.
"""

from __future__ import annotations

import torch
from torch import Tensor


def cholesky_solve_ex(A: Tensor, B: Tensor) -> tuple[Tensor, Tensor]:
    """``(X, ok)``: ``X`` solves ``A X = B`` where ``ok`` (the task's ``A`` is positive
    definite and the solution finite); elsewhere ``X`` is undefined.

    Args:
        A: ``(..., d, d)`` symmetric (its lower triangle is read).
        B: ``(..., d, r)``.
    """
    factor, info = torch.linalg.cholesky_ex(A)
    X = torch.cholesky_solve(B, factor)
    ok = (info == 0) & torch.isfinite(X).flatten(-2).all(-1)
    return X, ok


def solve_symmetric(A: Tensor, B: Tensor) -> Tensor:
    """Solve ``A X = B`` for symmetric ``A (..., d, d)``, ``B (..., d, r)``.

    Cholesky where ``A`` is positive definite; the minimum-norm solution ``A⁺ B`` (`pinv`) on
    the other tasks. Differentiable on the Cholesky path; called on
    concrete tensors (the fallback indexes the failed tasks).
    """
    X, ok = cholesky_solve_ex(A, B)
    if bool(ok.all()):
        return X
    bad = ~ok
    X = X.clone()
    X[bad] = pinv(A[bad]) @ B[bad]
    return X


def pinv(A: Tensor) -> Tensor:
    """Pseudo-inverse of a batch of (symmetric) matrices by the SVD.

    Not ``hermitian=True``: the batched float32 ``eigh`` of the same build returned NaN for one
    matrix of a batch of two that it decomposes alone (seen on a face system of the SVM head
    in training). A task whose SVD still fails is redone in float64.
    """
    P = torch.linalg.pinv(A)
    bad = ~torch.isfinite(P).flatten(-2).all(-1)
    if bool(bad.any()):
        P = P.clone()
        P[bad] = torch.linalg.pinv(A[bad].double()).to(A.dtype)
    return P


__all__ = ["cholesky_solve_ex", "pinv", "solve_symmetric"]
