"""The maps from the SVM dual to the primal: weights and scores, with hand-written backwards.

With ``A = Y - Λ (..., n, k)`` and features ``F (..., n, m)``, the primal weights are
``W = shrink_columns(A^T F)``, column by column ``W_j = BST(v_j, lam1) / lam2`` with
``v_j = A^T F_j`` (``problems/svm_dual.py``), and the scores are ``S = F W^T``. The implicit
backward differentiates the scores (inside the stationarity map) and the head differentiates the
weights. Autograd would make nine passes over ``F`` for them; the functions here make three, and
only over the *active* columns (``||v_j|| > lam1``), because a column below the threshold has
``W_j = 0`` and a zero Jacobian: at 80 % column sparsity the backward reads a fifth of ``F``.
In kernel form (``lam1 = 0``) the scores ``K A / lam2`` are evaluated with ``K = F F^T`` and
differentiated through ``F`` in ``O(n m k)`` rather than through ``K``'s graph in ``O(n² m)``.

The active columns have a data-dependent count, which ``torch.func.vmap`` cannot trace: they are
gathered by :func:`active_columns`, an ``autograd.Function`` whose ``vmap`` rule receives
concrete tensors (``jacrev`` of the implicit mode runs these backwards under ``vmap``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers._vmap import batch_first
from sparselayers.ops.gather import active_first, take_columns


def shrink_columns(V: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
    """``BST(v_j, lam1) / lam2`` for every column ``v_j`` of ``V (..., k, m)``.

    The same map as ``ops.prox.block_soft_threshold`` on ``V^T``, written on the ``(k, m)``
    layout in four elementwise passes (a solver's iteration is made of these at m = 16,000).
    The scale ``(1 - lam1 / ||v_j||)_+`` is clamped twice, not selected with ``where``: nine
    operations where the "double where" took thirteen (on 5-shot heads at m = 1,600 a solver
    iteration costs its per-operation overhead), and still a zero, not NaN, gradient on zero
    and below-threshold columns (``||v_j||²`` is floored at the smallest normal number, and the
    second clamp cuts the gradient of those columns). Only on the threshold itself (and for a
    zero column when ``lam1 = 0``) does the gradient differ, by picking another subgradient.
    """
    squared = (V * V).sum(-2, keepdim=True)  # (..., 1, m)
    inverse = squared.clamp_min(torch.finfo(V.dtype).tiny).rsqrt()
    scale = (1 - lam1[..., None, None] * inverse).clamp_min(0)
    return V * (scale / lam2[..., None, None])


TRANSPOSED_BELOW = 500_000
"""Up to this many entries of ``F`` per task, :func:`scores` forms ``(W F^T)^T`` rather than
``F W^T``: the same products, for which this CPU build's batched matmul is 1.6-3x faster at
``k = 5`` (8 tasks, one thread: n = 25, m = 1,600 / 7,800 / 16,000: 0.23 / 1.1 / 1.7 ms ->
0.07 / 0.58 / 1.09 ms; n = 75, m = 2,000 / 4,000: 0.50 / 1.0 -> 0.30 / 0.69 ms) and 10-20 %
slower on larger ``F`` (n = 75, m = 12,000 / 16,000)."""


def scores(F: Tensor, W: Tensor, Y: Tensor | None = None) -> Tensor:
    """``F W^T`` ``(..., n, k)`` for ``F (..., n, m)``, ``W (..., k, m)``, or ``F W^T - Y``
    for flattened tasks ``(T, ...)`` (one ``baddbmm``), in the matmul layout that is faster
    for ``F``'s size (:data:`TRANSPOSED_BELOW`); a transposed view in the small case.
    Differentiable."""
    if F.shape[-2] * F.shape[-1] > TRANSPOSED_BELOW:
        return F @ W.mT if Y is None else torch.baddbmm(Y, F, W.mT, beta=-1)
    if Y is None:
        return (W @ F.mT).mT
    return torch.baddbmm(Y.mT, W, F.mT, beta=-1).mT


GATHER_BELOW = 0.75
"""Active columns are gathered only when a task has fewer than this fraction of all: gathering
copies them, and from three quarters on the copy costs more than the passes it shortens (15-shot
heads at lam1 = 0.02 have 99.9 % active columns; the three gathers of their backward took a
fifth of it, and the scatters back another eighth)."""


class _ActiveColumns(torch.autograd.Function):
    """``(X[..., order], ...)`` for the columns where ``on`` holds, padded to the largest count
    of the batch with inactive columns; not differentiated (Hessians are not).

    The output size depends on the data, which ``torch.func.vmap`` cannot trace: the ``vmap``
    rule receives concrete tensors and gathers for the whole batch at once.
    """

    @staticmethod
    def forward(on: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
        if on.numel() and int(on.sum(-1).max()) >= GATHER_BELOW * on.shape[-1]:
            return tuple(X.detach() for X in tensors)  # every column, in order (no copy)
        order, _keep = active_first(on)
        return tuple(take_columns(X, order) for X in tensors)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(*output)

    @staticmethod
    def backward(ctx, *grads):
        return (None,) * (len(grads) + 1)

    @staticmethod
    def vmap(info, in_dims, on, *tensors):
        return _ActiveColumns.apply(*batch_first(info, in_dims, on, *tensors)), (0,) * len(tensors)


def active_columns(on: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """The columns ``j`` with ``on[..., j]`` of every ``X (..., r, m)``, as ``(..., r, s)`` with
    ``s`` the largest count of the batch (padded with columns where ``on`` is false); all ``m``
    columns in their order when ``s >= GATHER_BELOW m`` (then ``s = m`` means no gather)."""
    return _ActiveColumns.apply(on, *tensors)


def shrink_pullback(V: Tensor, R: Tensor, lam1: Tensor, lam2: Tensor):
    """Pieces of the vector-Jacobian product of ``V -> W = shrink_columns(V)`` with ``R``.

    On an active column ``W_j = s_j v_j``, ``s_j = (1 - lam1/||v_j||)/lam2``, and the Jacobian
    ``J_j = s_j I + lam1/(lam2 ||v_j||³) v_j v_j^T`` is symmetric. Returns ``W``, ``T = J^T R``
    (both ``(..., k, m)``, zero on inactive columns), ``∂lam1 = -Σ_j R_j·v_j / (lam2 ||v_j||)``
    and ``∂lam2 = -<R, W> / lam2``, per task.
    """
    s, radial, inverse = _jacobian(V, lam1, lam2)
    W = V * s
    Rv = (R * V).sum(-2, keepdim=True)
    T = torch.addcmul(R * s, V, Rv * radial)
    return W, T, -(Rv * inverse).sum((-2, -1)) / lam2, -(R * W).sum((-2, -1)) / lam2


def shrink_jacobian(V: Tensor, lam1: Tensor, lam2: Tensor) -> tuple[Tensor, Tensor]:
    """``(s, U)``, ``(..., 1, m)`` and ``(..., k, m)``, with ``J_j r = s_j r + (r·v_j) U_j`` the
    Jacobian of ``shrink_columns`` at ``V`` (:func:`shrink_pullback`): the coefficients of
    repeated products with a fixed Jacobian (conjugate gradients), four operations each."""
    s, radial, _inverse = _jacobian(V, lam1, lam2)
    return s, V * radial


def _jacobian(V: Tensor, lam1: Tensor, lam2: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``s_j = (1 - lam1/||v_j||)/lam2``, ``lam1/(lam2 ||v_j||³)`` and ``1/||v_j||`` on the
    active columns, zero on the others, each ``(..., 1, m)``."""
    squared = (V * V).sum(-2, keepdim=True)
    on = squared > (lam1 * lam1)[..., None, None]
    inverse = torch.where(on, squared, torch.ones_like(squared)).rsqrt()
    inverse = torch.where(on, inverse, torch.zeros_like(inverse))  # 1/||v_j||, 0 if off
    l1, l2 = lam1[..., None, None], lam2[..., None, None]
    s = torch.where(on, (1 - l1 * inverse) / l2, torch.zeros_like(inverse))
    return s, l1 * inverse**3 / l2, inverse


def _on_active_columns(F: Tensor, V: Tensor, lam1: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """``F``, ``V`` restricted to the columns with ``||v_j|| > lam1`` and their indices
    ``(..., p)``: a column below the threshold has ``W_j = 0`` and a zero Jacobian, so it gets
    no gradient, and at 80 % column sparsity the backward passes over ``F`` cost a fifth."""
    on = (V * V).sum(-2) > (lam1 * lam1)[..., None]
    columns = torch.arange(F.shape[-1], device=F.device).expand(*on.shape[:-1], 1, F.shape[-1])
    F_a, V_a, index = active_columns(on, F, V, columns)
    return F_a, V_a, index[..., 0, :]


def scatter_columns(values: Tensor, index: Tensor, m: int) -> Tensor:
    """``(..., r, p)`` values at columns ``index (..., p)`` of a zero ``(..., r, m)`` tensor."""
    # The out-of-place scatter copies its input: from an expanded zero it writes the output
    # once, where a zero tensor was filled and then copied (on 5-shot heads at m = 16,000 the
    # fill of 13 MB of fresh pages took 3.7 ms, twice per backward, profiled). Out of place,
    # so that vmap can batch it (an in-place scatter into a fresh tensor fails under vmap).
    if values.shape[-1] == m:  # not gathered (``active_columns``): the columns in order
        return values
    out = values.new_zeros(()).expand(*values.shape[:-1], m)
    return out.scatter(-1, index.unsqueeze(-2).expand(values.shape), values)


def weight_columns(F: Tensor, W: Tensor, *others: Tensor) -> tuple[Tensor, ...]:
    """The active columns of ``W`` (``W_j != 0``) of ``F``, ``W`` and ``others`` (each
    ``(..., r, m)``, :func:`active_columns`) and their indices ``(..., p)``:
    ``(F_a, W_a, *others_a, index)``."""
    m = F.shape[-1]
    columns = torch.arange(m, device=F.device).expand(*W.shape[:-2], 1, m)
    *gathered, index = active_columns((W * W).sum(-2) > 0, F, W, *others, columns)
    return *gathered, index[..., 0, :]


def _from_weights(F: Tensor, W: Tensor, lam1: Tensor, lam2: Tensor, *others: Tensor):
    """:func:`weight_columns` with the active columns' ``v_j = W_j (lam2 + lam1 / ||W_j||)``
    (no pass over ``F``: ``||v_j|| = lam2 ||W_j|| + lam1``): ``(F_a, W_a, V_a, *others_a,
    index)``."""
    F_a, W_a, *others_a, index = weight_columns(F, W, *others)
    norm = (W_a * W_a).sum(-2, keepdim=True).sqrt()
    safe = torch.where(norm > 0, norm, torch.ones_like(norm))
    V_a = W_a * (lam2[..., None, None] + lam1[..., None, None] / safe)  # 0 on padding
    return F_a, W_a, V_a, *others_a, index


class ShrunkWeights(torch.autograd.Function):
    """``W = shrink_columns(A^T F, lam1, lam2)`` ``(..., k, m)``, with a backward that only
    touches the active columns: ``∂F = A T``, ``∂A = F T^T`` (see :func:`shrink_pullback`).

    The backward finds the active columns from ``W`` itself (``W_j != 0``) and recovers their
    ``v_j = W_j (lam2 + lam1 / ||W_j||)`` (``||v_j|| = lam2 ||W_j|| + lam1``), which saves a
    pass over ``F``.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(F: Tensor, A: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        return shrink_columns(A.mT @ F, lam1, lam2)

    @staticmethod
    def setup_context(ctx, inputs, output):
        F, A, lam1, lam2 = inputs
        ctx.save_for_backward(F, A, lam1, lam2, output)

    @staticmethod
    def backward(ctx, G: Tensor):
        F, A, lam1, lam2, W = ctx.saved_tensors
        F_a, _W_a, V_a, G_a, index = _from_weights(F, W, lam1, lam2, G)
        _, T, grad_lam1, grad_lam2 = shrink_pullback(V_a, G_a, lam1, lam2)
        grad_F = scatter_columns(A @ T, index, F.shape[-1]) if ctx.needs_input_grad[0] else None
        grad_A = F_a @ T.mT if ctx.needs_input_grad[1] else None
        return grad_F, grad_A, grad_lam1, grad_lam2


def weights_cotangent(F: Tensor, W: Tensor, lam1: Tensor, lam2: Tensor, G: Tensor) -> Tensor:
    """``∂<G, ShrunkWeights(F, A, lam1, lam2)>/∂A = F T^T``, ``T = J^T G`` on the active
    columns (:func:`shrink_pullback`), from ``W`` (its value)."""
    F_a, _W_a, V_a, G_a, _index = _from_weights(F, W, lam1, lam2, G)
    return scores(F_a, shrink_pullback(V_a, G_a, lam1, lam2)[1])


def joint_scores_weights_vjp(
    F: Tensor, A: Tensor, lam1: Tensor, lam2: Tensor, W: Tensor, G: Tensor, G_W: Tensor | None
):
    """``(∂F, ∂lam1, ∂lam2)`` of ``<G, FeatureScores(F, A, ...)> + <G_W, ShrunkWeights(F, A,
    ...)>`` at fixed ``A`` (``W`` the weights): both are ``W``'s cotangents pulled back, ``G^T F``
    and ``G_W``, so one :func:`shrink_pullback` of their sum ``R`` gives ``T = J^T R`` and
    ``∂F = G W + A T = [G, A] [W; T]``, one product and one scatter where the two maps took two
    of each, a second gather of ``F`` and the sum of two ``(n, m)`` gradients."""
    if G_W is None:
        F_a, W_a, V_a, index = _from_weights(F, W, lam1, lam2)
        R = G.mT @ F_a
    else:
        F_a, W_a, V_a, G_Wa, index = _from_weights(F, W, lam1, lam2, G_W)
        R = G_Wa + G.mT @ F_a
    _, T, grad_lam1, grad_lam2 = shrink_pullback(V_a, R, lam1, lam2)
    product = torch.cat([G, A], dim=-1) @ torch.cat([W_a, T], dim=-2)
    return scatter_columns(product, index, F.shape[-1]), grad_lam1, grad_lam2


class FeatureScores(torch.autograd.Function):
    """``S = F W^T`` with ``W = shrink_columns(A^T F, lam1, lam2)``.

    ``F (..., n, m)``, ``A (..., n, k)``, ``lam1``, ``lam2 (...)``. For a cotangent
    ``G (..., n, k)``, with ``R = G^T F`` and ``T = J^T R`` (:func:`shrink_pullback`):
    ``∂F = G W + A T = [G, A] [W; T]``, ``∂A = F T^T``; both vanish on inactive columns, so they
    are computed on the active ones only.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(F: Tensor, A: Tensor, lam1: Tensor, lam2: Tensor) -> Tensor:
        return F @ shrink_columns(A.mT @ F, lam1, lam2).mT

    @staticmethod
    def setup_context(ctx, inputs, output):
        F, A, lam1, lam2 = inputs
        ctx.save_for_backward(F, A, lam1, lam2)

    @staticmethod
    def backward(ctx, G: Tensor):
        return feature_scores_vjp(*ctx.saved_tensors, G)


def feature_scores_vjp(F: Tensor, A: Tensor, lam1: Tensor, lam2: Tensor, G: Tensor):
    """``(∂F, ∂A, ∂lam1, ∂lam2)`` of ``<G, FeatureScores(F, A, lam1, lam2)>``."""
    F_a, V_a, index = _on_active_columns(F, A.mT @ F, lam1)
    W, T, grad_lam1, grad_lam2 = shrink_pullback(V_a, G.mT @ F_a, lam1, lam2)
    product = torch.cat([G, A], dim=-1) @ torch.cat([W, T], dim=-2)
    return scatter_columns(product, index, F.shape[-1]), scores(F_a, T), grad_lam1, grad_lam2


class KernelScores(torch.autograd.Function):
    """``S = K A / lam2`` with ``K = F F^T``, whose gradient goes to ``F`` (not to ``K``).

    ``F (..., n, m)``, ``K (..., n, n)`` (must equal ``F F^T``, or ``F F^T + c I`` with a
    constant ``c``, MetaOptNet's dual ridge, which adds nothing to ``∂F``; it only makes the
    forward ``O(n² k)``), ``A (..., n, k)``, ``lam2 (...)``. For a cotangent ``G``:
    ``∂F = (G A^T F + A G^T F) / lam2 = [G, A] [A^T F; G^T F] / lam2`` (two passes over ``F``,
    both as ``(2k x n)(n x m)``-shaped products), ``∂A = K G / lam2``,
    ``∂lam2 = -<G, S> / lam2``.
    """

    generate_vmap_rule = True

    @staticmethod
    def forward(F: Tensor, K: Tensor, A: Tensor, lam2: Tensor) -> Tensor:
        return K @ A / lam2[..., None, None]

    @staticmethod
    def setup_context(ctx, inputs, output):
        F, K, A, lam2 = inputs
        ctx.save_for_backward(F, K, A, lam2, output)

    @staticmethod
    def backward(ctx, G: Tensor):
        F, K, A, lam2, S = ctx.saved_tensors
        return kernel_scores_vjp(F, K, A, lam2, S, G)


def kernel_scores_vjp(F: Tensor, K: Tensor, A: Tensor, lam2: Tensor, S: Tensor, G: Tensor):
    """``(∂F, None, ∂A, ∂lam2)`` of ``<G, KernelScores(F, K, A, lam2)>`` (``S`` its value)."""
    scale = lam2[..., None, None]
    left = torch.cat([G, A], dim=-1) / scale  # (..., n, 2k)
    right = torch.cat([A, G], dim=-1).mT @ F  # (..., 2k, m)
    return left @ right, None, K @ G / scale, -(G * S).sum((-2, -1)) / lam2
