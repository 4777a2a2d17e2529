"""Multiclass SVM heads in the dual: Crammer–Singer hinge + group lasso + ridge (paper, Problem 10).

Labels ``y_i`` with one-hot ``Y (..., n, k)``, features ``F (..., n, m)``. Primal over ``W (k, m)``:

    P(W) = Σ_i max_l [(W_l - W_{y_i}) · f_i + 1 - Y_il] + lam1 Σ_j ||W[:, j]|| + (lam2/2) ||W||²

Dual over ``Λ (..., n, k)`` with every row on the probability simplex (minimization form):

    φ(Λ) = 1/(2 lam2) Σ_j ||BST((Y - Λ)^T F[:, j], lam1)||² + <Y, Λ>,   D(Λ) = n - φ(Λ)

with the primal–dual link ``W[:, j] = BST((Y - Λ)^T F[:, j], lam1) / lam2``. (The paper's eq. (10)
prints ``1/lam2``; the conjugate of ``lam1 ||u|| + (lam2/2)||u||²`` gives ``1/(2 lam2)``.)
``P(0) = n``, so the relative gap is ``(P(W(Λ)) - D(Λ)) / n``.

**The solvers' variable is the offset** ``A = Y - Λ`` (rows in ``{A_i <= Y_i, Σ_l A_il = 0}``),
not ``Λ``: ``W[:, j] = BST(A^T F[:, j], lam1) / lam2``, ``φ = ||BST(A^T F)||² / (2 lam2) + n -
<Y, A>``, gradient ``∇φ(A) = F W^T - Y`` (the scores minus the labels), Lipschitz with constant
``||F||_2² / lam2``. Why: ``A`` is of the order of ``lam2 / ||F||²``. With features scaled by
``s`` the solution is that of the unscaled features with ``lam2 / s²`` and ``lam1 / s``, and
``W`` scales by ``1 / s``; ``Λ`` then sits within ``lam2 / s²`` of the vertex ``Y`` (``1e-12``
at ``s = 1e6``), which ``Λ`` cannot resolve in floating point (its iterates stalled at gaps of
0.6-1.0), while ``A`` holds it at full relative precision. The public ``dual`` is ``Y - A``.

Two problem objects share these formulas:

- :class:`~sparselayers.problems.svm_features.GroupLassoSVMDual` (``svm_features.py``) works
  with the features (``lam1 >= 0``): ``O(n m k)`` per iteration.
- :class:`~sparselayers.problems.svm_kernel.CrammerSingerKernelDual` (``svm_kernel.py``,
  ``lam1 = 0``) iterates with the kernel ``K = F F^T``:
  ``φ = tr(A^T K A) / (2 lam2) + n - <Y, A>``, ``O(n² k)`` per iteration once ``K`` is
  formed — with m = 16,000 ResNet-12 features and n ≤ 75 this is the efficient form — and is
  differentiated through the features (``O(n m k)``, not the ``O(n² m)`` of ``K``'s graph).

At the solution only the active columns (``||v_j|| > lam1``) carry curvature or gradient: the
reduced Hessian and the backward passes of the feature form work on them alone
(:func:`active_columns`), 20–27 % of the columns on the benchmark heads.

The active set of both is the faces of the simplices their rows lie on
(``problems/simplex_faces.py``): implicit differentiation and the Newton polish work there.
This module holds what the two forms share.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers.ops.simplex import project_offsets
from sparselayers.ops.support_solve import solve_on_support_checked, solve_system
from sparselayers.problems.simplex_faces import face_mask, project_tangent
from sparselayers.problems.svm_scores import ShrunkWeights


def primal_weights(A: Tensor, F: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
    """``W (..., k, m)`` from the dual offsets ``A = Y - Λ (..., n, k)`` (differentiable in
    every argument)."""
    return ShrunkWeights.apply(F, A, lam1, lam2)  # W_j = BST(A^T F_j, lam1) / lam2


def hinge(S: Tensor, Y: Tensor) -> Tensor:
    """``Σ_i max_l (S_il + 1 - Y_il) - S_{i y_i}`` per task, for scores ``S (..., n, k)``."""
    return ((S + 1 - Y).amax(-1) - (S * Y).sum(-1)).sum(-1)


def relative_gap_of(A: Tensor, Y: Tensor, primal: Tensor, dual: Tensor) -> Tensor:
    """``(primal - dual) / n`` per task, ``inf`` where ``A`` is not feasible (a row above ``Y``
    or whose sum is not zero, to rounding relative to the row's entries)."""
    n, k = A.shape[-2:]
    scale = A.abs().amax(-1)
    tolerance = 100 * k * torch.finfo(A.dtype).eps * scale
    feasible = (A <= Y).all(-1).all(-1) & (A.sum(-1).abs() <= tolerance).all(-1)
    gap = ((primal - dual) / n).clamp_min(0)
    return torch.where(feasible, gap, torch.full_like(gap, torch.inf))


def validate_labels(Y: Tensor) -> None:
    if not bool((Y.sum(-1) == 1).all()):
        raise ValueError("labels must be integers in [0, num_classes)")


def validate_lam2(lam2: Tensor) -> None:
    if not bool((lam2 > 0).all()):
        raise ValueError(f"lam2 must be positive, got min {float(lam2.min()):g}")


class SimplexDual:
    """What both SVM duals share: the offsets ``A = Y - Λ``, rows constrained to
    ``{A_i <= Y_i, Σ_l A_il = 0}``, and the faces of ``Λ`` as active set. The one-hot labels
    ``Y`` are the parameter at position :attr:`labels_at`; each form defines its own
    ``reduced_hessian``."""

    labels_at: int

    @classmethod
    def initial(cls, *params: Tensor) -> Tensor:
        """``A = 0`` (``Λ = Y``): the dual point of ``W = 0``."""
        return torch.zeros_like(params[cls.labels_at])

    @classmethod
    def prox(cls, V: Tensor, step: Tensor, *params: Tensor) -> Tensor:
        return project_offsets(V, params[cls.labels_at])

    @classmethod
    def active(cls, A: Tensor, *params: Tensor) -> Tensor:
        return face_mask(A, params[cls.labels_at])

    @classmethod
    def project(cls, A: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        return project_tangent(cls.active(A, *params), v)

    @staticmethod
    def restrict(A: Tensor, *params: Tensor):
        """The dual has no cheaper restriction: returns the problem itself. (Projecting Newton
        candidates onto the simplices was tried: it accepted points on slightly wrong faces,
        within the tolerance, whose implicit gradients were up to 20 % off.)"""
        return A, params, _identity

    @staticmethod
    def on_primal_support(W: Tensor, grad_W: Tensor | None, *params: Tensor):
        """The backward of ``(A, W)`` on the whole problem (the kernel form: with ``lam1 = 0``
        every column of ``W`` is active); the feature form restricts it to the active columns."""
        return W, grad_W, params, _unchanged

    @classmethod
    def support_system(cls, A: Tensor, *params: Tensor):
        """The implicit system (``backward/implicit.py``): the reduced Hessian at full size
        ``(..., nk, nk)``, the face mask ``(..., nk)``, and identity maps (the solve gathers the
        face coordinates itself)."""
        mask = cls.active(A, *params).flatten(-2)
        return cls.reduced_hessian(A, *params), mask, _identity, _identity

    @classmethod
    def solve_support(cls, X: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        return solve_system(cls.support_system(X, *params), v)

    @classmethod
    def solve_support_checked(cls, X: Tensor, v: Tensor, *params: Tensor):
        """The reduced Hessian, formed and solved on the faces (no fallback)."""
        H = cls.reduced_hessian(X, *params)
        return solve_on_support_checked(H, cls.active(X, *params), v)


def _identity(X: Tensor) -> Tensor:
    return X


def _unchanged(*grads: Tensor | None) -> tuple[Tensor | None, ...]:
    return grads
