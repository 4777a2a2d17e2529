"""The Crammer–Singer SVM dual (``lam1 = 0``) in kernel form.

    φ(A) = tr(A^T K A) / (2 lam2) + n - <Y, A>,    A = Y - Λ,  K = F F^T (..., n, n)

``O(n² k)`` per iteration once ``K`` is formed — with m = 16,000 ResNet-12 features and
n ≤ 75 the efficient form — and differentiated through the features (``O(n m k)``, not the
``O(n² m)`` of ``K``'s graph). Shared formulas in ``problems/svm_dual.py``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers._validation import check_values
from sparselayers.ops.support_solve import solve_system
from sparselayers.problems.simplex_faces import (
    face_mask,
    project_tangent,
    reduced_system,
    solve_on_faces,
)
from sparselayers.problems.svm_dual import (
    SimplexDual,
    hinge,
    relative_gap_of,
    validate_labels,
    validate_lam2,
)
from sparselayers.problems.svm_scores import KernelScores, kernel_scores_vjp


class CrammerSingerKernelDual(SimplexDual):
    """The Crammer–Singer dual (``lam1 = 0``) in kernel form over the offsets ``A = Y - Λ``;
    parameters ``(F, K, Y, lam2)`` with ``K = F F^T (..., n, n)`` computed once by the caller
    (``F F^T + c I`` for MetaOptNet's dual ridge ``c``: the head on the features
    ``[F, √c I_n]``, without forming them).

    The solvers only read ``K`` (``O(n² k)`` per iteration). The stationarity map is evaluated
    with ``K`` but differentiated as ``P (F (F^T A) / lam2 - Y)``, so that the implicit
    backward reaches ``F`` in ``O(n m k)``: differentiating through ``K = F F^T`` costs
    ``O(n² m)`` and took 60 % of the forward+backward time at m = 16,000 (profiled). In implicit
    mode ``K`` is therefore passed detached; in unrolled mode it carries the graph of ``F F^T``.
    """

    name = "crammer_singer_dual"
    # K is computed from the features, which are checked first (NaN/Inf propagate to K).
    param_names = ("features", "kernel", "labels", "lam2")
    labels_at = 2

    @staticmethod
    def validate(F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> None:
        """Labels, ``lam2 > 0``, and NaN/Inf, checked on ``K``: ``O(n²)`` instead of the
        ``O(n m)`` of checking ``F`` (4 passes over ``F``: 5 ms at m = 16,000, a fifth of the
        forward). NaN/Inf in ``F`` reach ``K``; only then is ``F`` itself inspected."""
        if not bool(torch.isfinite(K).all()):
            check_values(features=F)
            raise ValueError("features are too large: the kernel F F^T overflows")
        check_values(lam2=lam2)
        validate_labels(Y)
        validate_lam2(lam2)

    @staticmethod
    def lipschitz(F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        top = torch.linalg.eigvalsh(K)[..., -1]
        return top.clamp_min(torch.finfo(K.dtype).tiny) / lam2

    @staticmethod
    def scores(A: Tensor, K: Tensor, lam2: Tensor) -> Tensor:
        """``S = F W^T = K A / lam2``, ``(..., n, k)``."""
        return K @ A / lam2[..., None, None]

    @classmethod
    def smooth_gradient(cls, A: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        return cls.scores(A, K, lam2) - Y

    @classmethod
    def relative_gap(cls, A: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        S = cls.scores(A, K, lam2)
        ridge = (A * S).sum((-2, -1)) / 2  # (lam2/2)||W||^2 = <A, S>/2
        primal = hinge(S, Y) + ridge
        dual = (Y * A).sum((-2, -1)) - ridge
        return relative_gap_of(A, Y, primal, dual)

    @staticmethod
    def stationarity(A: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``P (K A / lam2 - Y)``, differentiated with respect to ``F`` through
        :class:`KernelScores` (``O(n m k)``), not through ``K``."""
        return project_tangent(face_mask(A, Y), KernelScores.apply(F, K, A, lam2) - Y)

    @staticmethod
    def stationarity_vjp(A: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor, u: Tensor):
        """``u``'s vector-Jacobian product with :meth:`stationarity` in ``(F, K, Y, lam2)``, in
        closed form; ``K`` gets none (its dependence on ``F`` is carried by ``∂F``)."""
        w = project_tangent(face_mask(A, Y), u)
        S = K @ A / lam2[..., None, None]
        dF, _, _dA, dlam2 = kernel_scores_vjp(F, K, A, lam2, S, w)
        return dF, torch.zeros_like(K), -w, dlam2

    @staticmethod
    def primal(A: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``W = A^T F / lam2`` ``(..., k, m)`` (BST with ``lam1 = 0`` is the identity)."""
        return (A / lam2[..., None, None]).mT @ F

    @staticmethod
    def primal_cotangent(A, W, grad_W, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``F grad_W^T / lam2`` ``(..., n, k)``: the pull-back of ``grad_W`` to ``A``."""
        return F @ grad_W.mT / lam2[..., None, None]

    @staticmethod
    def joint_vjp(A, W, grad_W, u, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor):
        """:meth:`stationarity_vjp` plus ``grad_W``'s product with :meth:`primal`, ``∂F`` in one
        product with ``F``: with ``w = P u``, the stationarity gives
        ``(w (A^T F) + A (w^T F)) / lam2 = w W + A (w^T F) / lam2`` and the primal map
        ``A grad_W / lam2``, so ``∂F = [w, A / lam2] [W; w^T F + grad_W]`` (one pass to read
        ``w^T F``, one to write ``∂F``, where the two products took three passes, two
        ``(n, m)`` results and their sum)."""
        scale = lam2[..., None, None]
        w = project_tangent(face_mask(A, Y), u)
        through = w.mT @ F
        if grad_W is not None:
            through = through.add_(grad_W)
        dF = torch.cat([w, A / scale], -1) @ torch.cat([W, through], -2)
        S = K @ A / scale
        dlam2 = -(w * S).sum((-2, -1)) / lam2
        if grad_W is not None:
            dlam2 = dlam2 - (grad_W * W).sum((-2, -1)) / lam2
        return dF, torch.zeros_like(K), -w, dlam2

    @staticmethod
    def reduced_hessian(A: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor) -> Tensor:
        """``P (K ⊗ I_k / lam2) P + I - P``, ``(..., nk, nk)``."""
        return reduced_system(face_mask(A, Y), K / lam2[..., None, None])

    @staticmethod
    def solve_support_checked(A: Tensor, v: Tensor, F: Tensor, K: Tensor, Y: Tensor, lam2: Tensor):
        """The reduced Hessian's solve without forming it: its classes decouple but for the
        rows' sum constraints (:func:`~sparselayers.problems.simplex_faces.solve_on_faces`),
        ``k + 1`` factorizations of ``n x n`` matrices where the formed system is ``nk x nk``.
        Measured on 8 tasks of 5-way heads (float32, one thread, random faces): 7.7 against
        13.3-14.3 ms for forming and solving it at 15 shots (n = 75), 1.1 against 1.6 ms at 5
        shots."""
        return solve_on_faces(face_mask(A, Y), K / lam2[..., None, None], v)

    @classmethod
    def solve_support(cls, A: Tensor, v: Tensor, *params: Tensor) -> Tensor:
        """:meth:`solve_support_checked`; the tasks it cannot solve (a class block of ``K`` that
        is singular, e.g. duplicated samples without ``dual_ridge``) are solved on the formed
        system, as :meth:`support_system` writes it."""
        z, ok = cls.solve_support_checked(A, v, *params)
        if bool(ok.all()):
            return z
        failed = ~ok
        z = z.clone()
        sub = tuple(p[failed] for p in params)
        z[failed] = solve_system(cls.support_system(A[failed], *sub), v[failed])
        return z


CRAMMER_SINGER = CrammerSingerKernelDual()
