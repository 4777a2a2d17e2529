"""Functional group-lasso multiclass SVM head, solved in the dual (paper, Problem 10)."""

from __future__ import annotations

import math
from dataclasses import replace

import torch
from torch import Tensor

from sparselayers import _validation as check
from sparselayers.backward.modes import Backward, Implicit, Reference, Unroll, parse_backward
from sparselayers.problems.svm_dual import primal_weights
from sparselayers.solution import SVMSolution
from sparselayers.solvers.options import SolverOptions, for_dtype
from sparselayers.solvers.table import forward_solver


def group_lasso_svm_dual(
    features: Tensor,
    labels: Tensor,
    lam1: float | Tensor,
    lam2: float | Tensor,
    *,
    num_classes: int,
    backward: Backward = "implicit",
    tol: float = 1e-6,
    max_iter: int = 5_000,
    warm_start: Tensor | None = None,
    dual_ridge: float = 0.0,
) -> SVMSolution:
    r"""Fit a batch of group-sparse Crammer–Singer SVM heads, differentiably.

    Per task, with one-hot labels ``Y``:

    .. math::
        \min_W \sum_i \max_l \big[(W_l - W_{y_i})\cdot f_i + 1 - Y_{il}\big]
        + \lambda_1 \sum_j \|W_{:, j}\|_2 + \frac{\lambda_2}{2}\|W\|_F^2

    solved in the dual over ``Λ`` (rows on the simplex) to a relative duality gap ``<= tol``,
    with ``W[:, j] = BST((Y - Λ)^T F[:, j], λ1) / λ2`` (see ``problems/svm_dual.py``; the
    solvers iterate on ``Y - Λ``, which keeps the head exact at any feature scale). With
    ``lam1 = 0`` (a float) it is the Crammer–Singer SVM, equal to scikit-learn's
    ``LinearSVC(multi_class="crammer_singer", C=1/lam2, fit_intercept=False)``, and is solved in
    kernel form (``K = F F^T``), which is what makes m = 16,000 features cheap.

    MetaOptNet's head (Lee et al., 2019) is not exactly that SVM: its dual QP adds ``1.0 · I``
    to the kernel. ``dual_ridge=1.0`` (with ``lam1 = 0``, ``lam2 = 1 / C``) gives it: the head
    is fit on the support features ``[F, √dual_ridge · I_n]`` (each support sample gets a
    private feature, so it can be fit with a slack the ridge pays for) and ``weights`` are the
    rows of ``W`` on ``F`` (queries have no private feature).

    Args:
        features: ``F (..., n, m)`` support-set features.
        labels: ``(..., n)`` integer labels in ``[0, num_classes)``.
        lam1: group-lasso weight ``>= 0`` (float, or tensor broadcastable to ``(...)``).
        lam2: ridge weight ``> 0`` (float, or tensor broadcastable to ``(...)``).
        num_classes: ``k >= 2``.
        backward: ``"implicit"`` (implicit differentiation on the active faces of the simplex
            and the active groups), ``"unroll"`` or ``"cvxpy"`` (float64 CPU reference).
        tol: relative duality-gap tolerance per task.
            A ``tol`` below what the dtype can certify (``4 eps``: 4.8e-7 in float32) is
            raised to it, with a warning.
        max_iter: iteration budget (epochs over the samples for ``lam1 = 0``); reaching it
            warns with the gap reached. ``backward="cvxpy"`` runs SCS on its own budget and
            warns likewise when its answer misses ``tol``.
        warm_start: initial dual ``Λ (..., n, k)``.
        dual_ridge: ``c >= 0`` added to the kernel of the dual (``K + c I``); MetaOptNet: 1.0.
            Only with ``lam1 = 0`` (a float).

    Returns:
        :class:`~sparselayers.SVMSolution`: ``weights (..., k, m)``, ``dual (..., n, k)``,
        ``gap``, ``n_iter``, ``converged``, and ``column_sparsity`` per task.
    """
    mode = parse_backward(backward)
    F = check.check_features(features)
    if isinstance(dual_ridge, bool) or not isinstance(dual_ridge, (int, float)):
        raise ValueError(f"dual_ridge must be a float >= 0, got {dual_ridge!r}")
    if not dual_ridge >= 0:
        raise ValueError(f"dual_ridge must be a float >= 0, got {dual_ridge!r}")
    if dual_ridge > 0 and (isinstance(lam1, Tensor) or lam1 != 0):
        raise ValueError("dual_ridge: MetaOptNet's head has no group-lasso term (lam1 = 0)")
    if dual_ridge > 0 and isinstance(mode, Reference):
        # The reference needs the feature form: the head on [F, √c I_n]. The other modes add
        # c I to the kernel (the same dual, without copying F into wider features).
        n, m = F.shape[-2:]
        private = math.sqrt(dual_ridge) * torch.eye(n, dtype=F.dtype, device=F.device)
        augmented = torch.cat([F, private.expand(*F.shape[:-2], n, n)], -1)
        sol = group_lasso_svm_dual(
            augmented, labels, 0.0, lam2, num_classes=num_classes, backward=backward, tol=tol,
            max_iter=max_iter, warm_start=warm_start,
        )  # fmt: skip
        return replace(sol, weights=sol.weights[..., :m])
    F, Y = check.broadcast_tasks(F, _one_hot(labels, F, num_classes), "labels", labels.shape)
    batch = F.shape[:-2]
    if not isinstance(lam2, Tensor) and isinstance(lam2, (int, float)) and lam2 <= 0:
        raise ValueError(f"lam2 must be positive, got {lam2!r}")
    lam1_t = check.regularization(lam1, batch, F, "lam1")
    lam2_t = check.regularization(lam2, batch, F, "lam2")
    if check.nothing_to_solve(F):
        # Zero tasks or m = 0: W is empty and the uniform off-label dual is optimal (gap 0).
        link = F.sum() * 0 + lam1_t.sum() * 0 + lam2_t.sum() * 0
        return SVMSolution(
            weights=F.new_zeros(*batch, num_classes, F.shape[-1]) + link,
            dual=(1 - Y) / (num_classes - 1),
            gap=F.new_zeros(batch),
            n_iter=torch.zeros(batch, dtype=torch.int64, device=F.device),
            converged=torch.ones(batch, dtype=torch.bool, device=F.device),
        )
    warm = None
    if warm_start is not None:
        check.check_same_kind(F, warm_start, "warm_start", "features")
        if warm_start.shape[-2:] != Y.shape[-2:]:
            raise ValueError(
                f"warm_start must have the shape of the dual {tuple(Y.shape)}, got "
                f"{tuple(warm_start.shape)}"
            )
        warm = Y - warm_start.expand(Y.shape)  # the solvers' variable: offsets A = Y - Λ
    options = for_dtype(SolverOptions(tol=tol, max_iter=max_iter), F.dtype, "group_lasso_svm_dual")
    # With lam1 = 0 (a float) the kernel form, whose iterations cost O(n² k) once K = F F^T is
    # formed; the reference mode needs the feature form (it has the cvxpy formulation).
    kernel_form = not isinstance(lam1, Tensor) and lam1 == 0 and not isinstance(mode, Reference)
    if kernel_form:
        # The implicit backward differentiates the stationarity map written with F (O(nmk));
        # only the unrolled one needs the graph of K = F F^T (see problems/svm_kernel.py).
        unroll = isinstance(mode, Unroll)
        K = F @ F.mT if unroll else F.detach() @ F.detach().mT
        if dual_ridge > 0:
            K = K + dual_ridge * torch.eye(K.shape[-1], dtype=K.dtype, device=K.device)
        solver, params = forward_solver("svm_kernel", options), (F, K, Y, lam2_t)
    else:
        solver, params = forward_solver("svm_features", options), (F, Y, lam1_t, lam2_t)
    if isinstance(mode, Implicit):
        # W differentiated with the dual: one product with F for both (backward/implicit.py).
        offsets, weights, gap, n_iter, converged = mode.solve_primal(solver, params, warm)
    else:
        offsets, gap, n_iter, converged = mode.solve(solver, params, warm)
        if kernel_form:
            weights = solver.problem.primal(offsets, *params)
        else:
            weights = primal_weights(offsets, F, lam1_t, lam2_t)
    dual = Y - offsets
    return SVMSolution(weights=weights, dual=dual, gap=gap, n_iter=n_iter, converged=converged)


def _one_hot(labels: Tensor, F: Tensor, num_classes: int) -> Tensor:
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 2:
        raise ValueError(f"num_classes must be an int >= 2, got {num_classes!r}")
    if not isinstance(labels, Tensor):
        raise ValueError(f"labels must be a torch.Tensor, got {type(labels).__name__}")
    if labels.dtype == torch.bool or labels.is_floating_point() or labels.is_complex():
        raise ValueError(f"labels must be an integer tensor, got dtype {labels.dtype}")
    if labels.device != F.device:
        raise ValueError(f"labels is on {labels.device} but features is on {F.device}")
    if labels.ndim != F.ndim - 1 or labels.shape[-1] != F.shape[-2]:
        raise ValueError(
            f"labels must have shape (..., n) = (..., {F.shape[-2]}) to match features "
            f"{tuple(F.shape)}, got {tuple(labels.shape)}"
        )
    classes = torch.arange(num_classes, device=F.device)
    # Out-of-range labels give all-zero rows, which the solver rejects with a ValueError
    # (a data-dependent check cannot run here, under torch.func.vmap).
    return (labels.unsqueeze(-1) == classes).to(F.dtype)
