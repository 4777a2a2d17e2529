"""The group-lasso multiclass SVM dual in feature form (``lam1 >= 0``; paper, Problem 10).

    φ(A) = 1/(2 lam2) Σ_j ||BST(A^T F[:, j], lam1)||² + n - <Y, A>,    A = Y - Λ

over the offsets ``A (..., n, k)`` of ``Λ``, whose rows lie on the simplex, features
``F (..., n, m)``: ``O(n m k)`` per
iteration (shared formulas in ``problems/svm_dual.py``). At the solution only the active columns
(``||v_j|| > lam1``) carry curvature or gradient: the reduced Hessian and the backward passes
work on them alone (:func:`~sparselayers.problems.svm_scores.active_columns`), 20–27 % of the
columns on the benchmark heads.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from sparselayers._validation import check_values
from sparselayers.ops.pcg import (
    DIRECT_SOLVE_BUDGET,
    DIRECT_SOLVE_COLUMNS,
    conjugate_gradients,
    relative_tolerance,
)
from sparselayers.ops.prox import group_norm
from sparselayers.ops.support_solve import solve_system
from sparselayers.problems.simplex_faces import face_mask, project_tangent, reduced_system
from sparselayers.problems.svm_dual import (
    SimplexDual,
    hinge,
    relative_gap_of,
    validate_labels,
    validate_lam2,
)
from sparselayers.problems.svm_scores import (
    FeatureScores,
    active_columns,
    feature_scores_vjp,
    joint_scores_weights_vjp,
    scatter_columns,
    scores,
    shrink_columns,
    shrink_jacobian,
    weight_columns,
    weights_cotangent,
)


class GroupLassoSVMDual(SimplexDual):
    """The group-lasso multiclass SVM dual in feature form over the offsets ``A = Y - Λ``;
    parameters ``(F, Y, lam1, lam2)``."""

    name = "group_lasso_svm_dual"
    param_names = ("features", "labels", "lam1", "lam2")
    labels_at = 1

    @staticmethod
    def validate(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> None:
        """Labels, ``lam2 > 0``, and NaN/Inf: ``F`` in one pass (its sum is finite unless an
        entry is NaN/Inf or the sum overflows; only then is ``F`` inspected entry by entry,
        which at m = 16,000 costs four passes, 5 ms)."""
        if not bool(torch.isfinite(F.sum())):
            check_values(features=F)
        check_values(lam1=lam1, lam2=lam2)
        validate_labels(Y)
        validate_lam2(lam2)

    @staticmethod
    def lipschitz(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        n, m = F.shape[-2:]
        small = F @ F.mT if n <= m else F.mT @ F
        top = torch.linalg.eigvalsh(small)[..., -1]
        return top.clamp_min(torch.finfo(F.dtype).tiny) / lam2

    @staticmethod
    def smooth_gradient(A: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        # Plain operations (the unrolled backward differentiates them): calling an
        # autograd.Function costs ~30 us, a tenth of a solver iteration on 5-shot heads.
        # F W^T - Y in one baddbmm, in the faster layout (the solvers pass flattened tasks
        # (T, n, m)): on 5-shot heads at m = 1,600 an iteration costs in proportion to its
        # operations.
        W = shrink_columns(A.mT @ F, lam1, lam2)
        return scores(F, W, Y)

    @classmethod
    def relative_gap(cls, A: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        W = shrink_columns(A.mT @ F, lam1, lam2)  # (..., k, m)
        return cls.relative_gap_at(A, W, scores(F, W), Y, lam1, lam2)

    @staticmethod
    def relative_gap_at(
        A: Tensor, W: Tensor, S: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor
    ) -> Tensor:
        """:meth:`relative_gap` from ``A``'s weights ``W (..., k, m)`` and scores ``S = F W^T``
        (for a solver that has them: the two passes over ``F``)."""
        ridge = lam2 / 2 * (W * W).sum((-2, -1))
        primal = hinge(S, Y) + lam1 * group_norm(W.mT).sum(-1) + ridge
        dual = (Y * A).sum((-2, -1)) - ridge
        return relative_gap_of(A, Y, primal, dual)

    @staticmethod
    def column_norms(A: Tensor, F: Tensor) -> Tensor:
        """``||A^T F_j||``, ``(..., m)``."""
        V = A.mT @ F
        return (V * V).sum(-2).sqrt()

    @classmethod
    def stationarity(cls, A: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``P (F W^T - Y)``; its vector-Jacobian product (:class:`FeatureScores`) makes three
        passes over ``F`` where autograd made nine."""
        return project_tangent(face_mask(A, Y), FeatureScores.apply(F, A, lam1, lam2) - Y)

    @staticmethod
    def stationarity_vjp(A: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor, u: Tensor):
        """``u``'s vector-Jacobian product with :meth:`stationarity` in ``(F, Y, lam1, lam2)``,
        in closed form (what ``torch.func.vjp`` gives, without evaluating the scores)."""
        w = project_tangent(face_mask(A, Y), u)
        dF, _dA, dlam1, dlam2 = feature_scores_vjp(F, A, lam1, lam2, w)
        return dF, -w, dlam1, dlam2

    @staticmethod
    def primal(A: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``W = BST(A^T F, lam1) / lam2`` ``(..., k, m)`` (column by column)."""
        return shrink_columns(A.mT @ F, lam1, lam2)

    @staticmethod
    def primal_cotangent(A, W, grad_W, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor):
        """``F (J^T grad_W)^T`` ``(..., n, k)`` on the active columns of ``W``."""
        return weights_cotangent(F, W, lam1, lam2, grad_W)

    @staticmethod
    def on_primal_support(W: Tensor, grad_W: Tensor | None, F: Tensor, *others: Tensor):
        """The backward on the active columns of ``W`` (``W_j != 0``) alone: ``F``, ``W`` and
        ``grad_W`` gathered once, where its three steps (cotangent, solve, products) gathered
        ``F`` each and the solve read all of it for ``A^T F``; ``expand`` writes ``∂F`` back
        to all columns (zero on the others, which carry no gradient). Measured on the benchmark
        heads (8 tasks, 5-way, λ1 = 0.5 λ1_max, m = 16,000, one thread, interleaved): backward
        26-27 -> 20-21 ms at 5 shots, 105 -> 88-94 ms at 15 shots."""
        m = F.shape[-1]
        F_a, W_a, *rest, index = weight_columns(F, W, *(() if grad_W is None else (grad_W,)))
        if F_a.shape[-1] == m:  # not gathered: the problem itself
            return SimplexDual.on_primal_support(W, grad_W, F, *others)
        grad_Wa = rest[0] if rest else None

        def expand(dF: Tensor | None, *grads: Tensor | None):
            return (None if dF is None else scatter_columns(dF, index, m), *grads)

        return W_a, grad_Wa, (F_a, *others), expand

    @staticmethod
    def joint_vjp(A, W, grad_W, u, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor):
        """:meth:`stationarity_vjp` plus ``grad_W``'s product with :meth:`primal`: one
        pull-back and one product with the active columns of ``F``
        (``svm_scores.joint_scores_weights_vjp``)."""
        w = project_tangent(face_mask(A, Y), u)
        dF, dlam1, dlam2 = joint_scores_weights_vjp(F, A, lam1, lam2, W, w, grad_W)
        return dF, -w, dlam1, dlam2

    @staticmethod
    def reduced_hessian(A: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        """``P H P + I - P`` with ``H = (1/lam2) Σ_j F_j F_j^T ⊗ ∂BST(v_j)``, ``(..., nk, nk)``.

        ``∂BST(v) = c I + d u u^T`` on active groups (``c = 1 - lam1/||v||``, ``d = lam1/||v||``,
        ``u = v/||v||``), 0 elsewhere; so ``H = (F diag(c) F^T) ⊗ I + U diag(d) U^T / lam2`` with
        ``U`` the ``(nk, m)`` matrix of columns ``F_j ⊗ u_j``. Only the active groups contribute:
        they are gathered first, so the ``O(n² k² s)`` product costs ``s`` = active columns, not
        ``m`` (5x less at 80 % column sparsity).
        """
        V = A.mT @ F  # (..., k, m)
        F, V = active_columns(group_norm(V.mT) > lam1[..., None], F, V)
        norm = group_norm(V.mT)
        lam1_ = lam1[..., None]
        on = norm > lam1_
        safe = torch.where(on, norm, torch.ones_like(norm))
        c = torch.where(on, 1 - lam1_ / safe, torch.zeros_like(norm))
        d = torch.where(on, lam1_ / safe, torch.zeros_like(norm))
        u = V * (d / lam2[..., None]).sqrt().unsqueeze(-2) / safe.unsqueeze(-2)  # (..., k, s)
        M = (F * c.unsqueeze(-2)) @ F.mT / lam2[..., None, None]
        return reduced_system(face_mask(A, Y), M, F, u)  # U[(i, a), j] = F_ij √(d_j/lam2) u_aj

    @classmethod
    def solve_support(
        cls, A: Tensor, v: Tensor, F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor
    ) -> Tensor:
        """The implicit solve ``(P H P + I - P) z = v``: formed and factorized (as
        :meth:`reduced_hessian` writes it) up to ``DIRECT_SOLVE_COLUMNS`` active columns and
        ``DIRECT_SOLVE_BUDGET`` multiply-adds per task, by preconditioned conjugate gradients
        above them (``ops/pcg.py``).

        ``H = Σ_j F_j F_j^T ⊗ J_j`` over the active columns, ``J_j ⪯ I / lam2`` the Jacobian of
        ``BST(., lam1) / lam2`` at ``v_j`` (``J_j = I / lam2`` for ``lam1 = 0``); the
        preconditioner replaces every ``J_j`` by ``I / lam2``, i.e. ``H`` by ``(F_A F_A^T / lam2)
        ⊗ I``, which costs one ``n x n`` Gram matrix and an ``nk x nk`` Cholesky factor (exact
        for ``lam1 = 0``, and close while the shrinkage ``lam1 / ||v_j||`` is small). Measured
        on 15-shot 5-way heads (m = 16,000, float32): 4-8 iterations to the float32 accuracy of
        the direct solve at 43-100 % active columns. Tasks where they do not converge are
        solved directly.
        """
        n, k = A.shape[-2:]
        V = A.mT @ F
        F_A, V_A = active_columns(group_norm(V.mT) > lam1[..., None], F, V)
        s = F_A.shape[-1]
        if s <= DIRECT_SOLVE_COLUMNS and (n * k) ** 2 * s <= DIRECT_SOLVE_BUDGET:
            return solve_system(cls.support_system(A, F, Y, lam1, lam2), v)
        mask = face_mask(A, Y)
        on = (group_norm(V_A.mT) > lam1[..., None]).to(F.dtype)  # not the padding columns
        preconditioner = reduced_system(
            mask, (F_A * on.unsqueeze(-2)) @ F_A.mT / lam2[..., None, None]
        )
        factor, info = torch.linalg.cholesky_ex(preconditioner)

        def precondition(r: Tensor) -> Tensor:
            z = torch.cholesky_solve(r.flatten(-2).unsqueeze(-1), factor)
            return project_tangent(mask, z.view_as(r))

        scale, radial = shrink_jacobian(V_A, lam1, lam2)

        def product(x: Tensor) -> Tensor:  # P H P x + (I - P) x, with x on the tangent space
            R = x.mT @ F_A
            curvature = torch.addcmul(R * scale, radial, (R * V_A).sum(-2, keepdim=True))
            return project_tangent(mask, scores(F_A, curvature))  # F_j J_j (F_j^T x)

        z, converged = conjugate_gradients(
            product, precondition, project_tangent(mask, v), rtol=relative_tolerance(A.dtype)
        )
        failed = ~converged | (info != 0)
        if bool(failed.any()):  # directly, on the failed tasks only
            sub = (A[failed], F[failed], Y[failed], lam1[failed], lam2[failed])
            z = z.clone()
            z[failed] = solve_system(cls.support_system(*sub), v[failed])
        return z

    @staticmethod
    def cvxpy_sizes(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> tuple[int, int, int]:
        return (F.shape[-2], F.shape[-1], Y.shape[-1])

    @staticmethod
    def cvxpy_arguments(F: Tensor, Y: Tensor, lam1: Tensor, lam2: Tensor) -> tuple[Tensor, ...]:
        # DPP forbids products of parameter-dependent factors: lam2 * Y is passed as a
        # parameter, and the objective is multiplied by lam2 (same minimizer).
        return (F, Y, lam2[..., None, None] * Y, lam1)

    @staticmethod
    def cvxpy_problem(n: int, m: int, k: int):
        return _cvxpy_svm_dual(n, m, k)


@lru_cache(maxsize=16)
def _cvxpy_svm_dual(n: int, m: int, k: int):
    import cvxpy as cp

    F = cp.Parameter((n, m))
    Y = cp.Parameter((n, k))
    lam2_Y = cp.Parameter((n, k))
    lam1 = cp.Parameter(nonneg=True)
    A = cp.Variable((n, k))  # the offsets Y - Λ
    norms = cp.norm(A.T @ F, 2, axis=0)
    objective = cp.sum(cp.square(cp.pos(norms - lam1))) / 2 - cp.sum(cp.multiply(lam2_Y, A))
    constraints = [A <= Y, cp.sum(A, axis=1) == 0]
    return cp.Problem(cp.Minimize(objective), constraints), [F, Y, lam2_Y, lam1], [A]


GROUP_LASSO_SVM = GroupLassoSVMDual()
