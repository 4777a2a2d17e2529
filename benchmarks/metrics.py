"""Accuracy metrics recorded next to time: duality gap, support size, and the errors of the
solution and of the gradient against the float64 reference.

The reference is our own implicit mode in float64 at ``tol = 1e-12`` (its gradients are checked
against gradcheck, unrolling, cvxpy/diffcp and finite differences of scikit-learn in
``tests/core/test_gradients.py``); ridge's reference is its closed form, the L21 norm's is
autograd in float64. The SVM head's reference is our head in float64 at ``tol = 1e-10``; for
MetaOptNet's problem (``dual_ridge = c > 0``, dual kernel ``K + c I``) it is the plain head on
the features ``[F, √c I_n]`` (the same QP written without ``dual_ridge``), restricted to the
weights on ``F``. Gaps are evaluated in float64 on each method's returned solution with one
formula for every method (``(P(W) - D) / P(0)``, the library's certificate, written out here), so
a method's own stopping rule cannot flatter it.
"""

from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

import sparselayers as sl
from benchmarks.cases import Problem
from benchmarks.data import regression_data, svm_data

REFERENCE_TOL = 1e-12
"""Relative duality gap of the regression references."""
SVM_REFERENCE_TOL = 1e-10
"""Relative duality gap of the SVM references."""


def relative_error(value: Tensor, reference: Tensor) -> float:
    """``||value - reference|| / ||reference||`` in float64."""
    value, reference = value.double(), reference.double()
    return float((value - reference).norm() / reference.norm().clamp_min(1e-300))


def support_size(weights: Tensor, tasks: int) -> float:
    """Mean number of features with a nonzero weight per task (exact zeros only)."""
    w = weights.reshape(tasks, -1, weights.shape[-1])
    return float((w != 0).any(-2).sum(-1).double().mean())


def as_groups(weights: Tensor, k: int) -> Tensor:
    """Public weights ``(T, m)`` or ``(T, k, m)`` → the problems' ``B (T, m, k)``."""
    return weights.unsqueeze(-1) if k == 1 else weights.mT


def block_soft_threshold(A: Tensor, tau: float) -> Tensor:
    """``BST(a, τ) = (1 - τ / ||a||)₊ a`` on every row of ``A (..., m, k)`` (a zero row stays
    zero); only evaluated, never differentiated."""
    norms = A.norm(dim=-1, keepdim=True)
    return (1 - tau / norms.clamp_min(torch.finfo(A.dtype).tiny)).clamp_min(0) * A


def group_lasso_gap(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
    """Relative duality gap ``(P(B) - D(θ)) / P(0)`` of the group Lasso per task, ``(T,)``.

    ``P(B) = ||Y - F B||² / (2n) + λ Σ_j ||B_j||`` for ``B (T, m, k)`` (rows are the groups),
    ``F (T, n, m)``, ``Y (T, n, k)``, ``λ (T,) > 0``. The dual point is the rescaled residual
    ``θ = R / (n · max(1, max_j ||F_j^T R|| / (n λ)))`` (feasible: ``||F_j^T θ|| <= λ``), with
    ``D(θ) = <Y, θ> - n/2 ||θ||²``, and ``P(0) = ||Y||² / (2n)``.
    """
    n = F.shape[-2]
    R = Y - F @ B
    primal = (R * R).sum((-2, -1)) / (2 * n) + lam * B.norm(dim=-1).sum(-1)
    correlation = (F.mT @ R).norm(dim=-1).amax(-1) / n
    theta = R / (n * (correlation / lam).clamp_min(1))[:, None, None]
    dual = (Y * theta).sum((-2, -1)) - n / 2 * (theta * theta).sum((-2, -1))
    return (primal - dual).clamp_min(0) / ((Y * Y).sum((-2, -1)) / (2 * n))


def ridge_gap(B: Tensor, F: Tensor, Y: Tensor, lam: Tensor) -> Tensor:
    """Relative duality gap of ridge per task: ``P(B) = ||R||² / (2n) + λ/2 ||B||²``,
    ``R = Y - F B``, against ``D(θ) = <Y, θ> - n/2 ||θ||² - ||F^T θ||² / (2λ)`` at ``θ = R / n``;
    shapes and ``P(0)`` as in :func:`group_lasso_gap`."""
    n = F.shape[-2]
    R = Y - F @ B
    primal = (R * R).sum((-2, -1)) / (2 * n) + lam / 2 * (B * B).sum((-2, -1))
    theta = R / n
    correlation = F.mT @ theta
    dual = (Y * theta).sum((-2, -1)) - n / 2 * (theta * theta).sum((-2, -1))
    dual = dual - (correlation * correlation).sum((-2, -1)) / (2 * lam)
    return (primal - dual).clamp_min(0) / ((Y * Y).sum((-2, -1)) / (2 * n))


def regression_gap(problem: Problem, weights: Tensor, tasks: int) -> float:
    """Largest relative duality gap over the first ``tasks`` tasks, evaluated in float64."""
    data = regression_data(problem)
    F = data.features[:tasks].double()
    Y = data.targets[:tasks].double()
    Y = Y.unsqueeze(-1) if problem.k == 1 else Y
    gap = ridge_gap if problem.layer == "ridge" else group_lasso_gap
    B = as_groups(weights.detach().double(), problem.k)
    return float(gap(B, F, Y, data.lam[:tasks]).max())


def project_rows_on_simplex(x: Tensor) -> Tensor:
    """Euclidean projection of every row (last dim) onto the probability simplex."""
    u, _ = torch.sort(x, dim=-1, descending=True)
    css = u.cumsum(-1) - 1
    index = torch.arange(1, x.shape[-1] + 1, dtype=x.dtype)
    rho = ((u - css / index) > 0).sum(-1, keepdim=True)
    theta = css.gather(-1, rho - 1) / rho.to(x.dtype)
    return (x - theta).clamp_min(0)


def private_features(tasks: int, n: int, dual_ridge: float) -> Tensor:
    """``√c I_n`` per task ``(tasks, n, n)``: with them appended to ``F``, the plain head is the
    head whose dual kernel is ``K + c I`` (each support sample gets a feature of its own)."""
    eye = torch.eye(n, dtype=torch.float64) * dual_ridge**0.5
    return eye.expand(tasks, n, n)


def svm_gap(weights: Tensor, dual: Tensor, problem: Problem, tasks: int) -> float:
    """Largest relative duality gap ``(P(W) - D(Λ)) / P(0)`` of the SVM head, in float64.

    ``P(W) = Σ_i max_l [(W_l - W_{y_i})·f_i + 1 - Y_il] + λ1 Σ_j ||W_j|| + λ2/2 ||W||²`` and
    ``D(Λ) = n - <Y, Λ> - 1/(2 λ2) Σ_j ||BST((Y - Λ)^T F_j, λ1)||²``, with ``Λ`` projected on the
    simplex (so that ``D`` is a valid lower bound even for an inexact dual); ``P(0) = n``.

    MetaOptNet's problem (``dual_ridge = c > 0``, λ1 = 0) is this head on ``[F, √c I_n]``; the
    weights of the private features, which the methods do not return, are the method's own
    ``√c (Y - Λ)^T / λ2`` (``√c α^T`` for qpth) from its unprojected dual: ``P`` is evaluated at
    a primal point, so the gap still bounds the suboptimality of both.
    """
    data = svm_data(problem)
    F = data.features[:tasks].double()
    labels = data.labels[:tasks]
    k, n = problem.k, problem.n
    W = weights.detach().double()
    Y = torch.nn.functional.one_hot(labels, k).double()
    if problem.dual_ridge:
        private = private_features(tasks, n, problem.dual_ridge)
        own = private @ (Y - dual.detach().double()) / data.lam2  # (T, n, k)
        F, W = torch.cat([F, private], -1), torch.cat([W, own.mT], -1)
    scores = F @ W.mT  # (T, n, k)
    true = scores.gather(-1, labels.unsqueeze(-1))
    hinge = (scores - true + 1 - Y).amax(-1).sum(-1)
    column_norms = W.norm(dim=-2)
    primal = hinge + data.lam1 * column_norms.sum(-1) + data.lam2 / 2 * (W * W).sum((-2, -1))
    Lam = project_rows_on_simplex(dual.detach().double())
    A = ((Y - Lam).mT @ F).mT  # (T, m, k): rows are the feature groups
    shrunk = block_soft_threshold(A, data.lam1)
    dual_value = n - (Y * Lam).sum((-2, -1)) - (shrunk * shrunk).sum((-2, -1)) / (2 * data.lam2)
    return float(((primal - dual_value) / n).max())


@lru_cache(maxsize=8)
def regression_reference(problem: Problem, tasks: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    """float64 reference ``(weights, grads)``; grads are the VJP with the fixed cotangent,
    with respect to ``(features, targets)`` (``(weights,)`` for the L21 norm)."""
    data = regression_data(problem)
    G = data.cotangent[:tasks]
    if problem.layer == "l21":
        W = l21_weights(problem).double().requires_grad_(True)
        value = sl.functional.l21_norm(W)
        (value * G[:, 0, 0]).sum().backward()
        return value.detach(), (W.grad,)
    F = data.features[:tasks].double().requires_grad_(True)
    Y = data.targets[:tasks].double().requires_grad_(True)
    solve = sl.functional.ridge if problem.layer == "ridge" else sl.functional.group_lasso
    sol = solve(F, Y, data.lam[:tasks], tol=REFERENCE_TOL, max_iter=200_000)
    (sol.weights * G).sum().backward()
    return sol.weights.detach(), (F.grad, Y.grad)


def l21_weights(problem: Problem) -> Tensor:
    """Weights ``(T, k, m)`` for the L21 benchmark: every other column is zero."""
    g = torch.Generator().manual_seed(99)
    W = torch.randn(problem.T, problem.k, problem.m, generator=g, dtype=torch.float64)
    W[..., ::2] = 0
    return W


@lru_cache(maxsize=8)
def svm_reference(problem: Problem, tasks: int) -> tuple[Tensor, tuple[Tensor, ...]]:
    """float64 reference of the SVM head: our implicit mode at a tight tolerance; weights
    ``(tasks, k, m)`` and the VJP with respect to ``F``.

    For MetaOptNet's problem the head is fit on ``[F, √c I_n]`` without ``dual_ridge`` (so the
    reference does not share the ``dual_ridge`` code path that it checks), and only the weights
    on ``F`` are kept (queries have no private feature).
    """
    data = svm_data(problem)
    F = data.features[:tasks].double().requires_grad_(True)
    features = F
    if problem.dual_ridge:
        features = torch.cat([F, private_features(tasks, problem.n, problem.dual_ridge)], -1)
    sol = sl.functional.group_lasso_svm_dual(
        features,
        data.labels[:tasks],
        data.lam1,
        data.lam2,
        num_classes=problem.k,
        backward="implicit",
        tol=SVM_REFERENCE_TOL,
    )
    weights = sol.weights[..., : problem.m]
    (weights * data.cotangent[:tasks]).sum().backward()
    return weights.detach(), (F.grad,)
