"""The smallest ``lam1`` whose group-lasso SVM head is all zero, certified by a duality gap.

``W = 0`` solves the primal of ``problems/svm_dual.py`` iff ``0`` is in its subdifferential
there. At ``W = 0`` every off-label class ties in sample ``i``'s hinge (value 1, the label's is
0), so the hinge's subgradients are ``(Λ - Y)^T F`` over the set

    𝒞 = {Λ (n, k): rows on the probability simplex, Λ[i, y_i] = 0},

and the ridge term's is 0. Hence, with ``V(Λ) = (Y - Λ)^T F`` (k, m) and columns ``V_j``,

    lam1_max = min_{Λ ∈ 𝒞} max_j ||V_j(Λ)||_2
             = min_{Λ ∈ 𝒞} max_{U ∈ 𝔹} <U, Y^T F - Λ^T F>,   𝔹 = {U (k, m): Σ_j ||U_j||_2 ≤ 1}

(the ℓ_{2,1} ball is the dual ball of the ℓ_{2,∞} norm), independent of ``lam2``. Any
``Λ ∈ 𝒞`` gives the upper bound ``max_j ||V_j(Λ)||`` (at or above it ``W = 0`` is certified);
any ``U ∈ 𝔹`` gives the lower bound

    <U, Y^T F> - Σ_i max_{l ≠ y_i} (F U^T)_{il}

(the inner minimum over 𝒞 is attained at a vertex per row; both bounds are in
``solvers/svm_lambda_max_bounds.py``). The saddle point is found on working sets of columns,
batched over tasks, until the relative gap ``(upper - lower) / upper`` is at most ``tol``: by a
barrier method (``solvers/svm_lambda_max_barrier.py``), and for the tasks it leaves
uncertified by the primal–dual hybrid gradient method (Chambolle & Pock, 2011) with steps
``τ σ ||F||_2² < 1``. The uniform off-label ``Λ_0`` (mass ``1 / (k - 1)``) starts them: its
bound is the closed-form upper bound ``max_j ||(Y - Λ_0)^T F_j||`` used before (and in
``solvers/svm_working_set.py``).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from torch import Tensor

from sparselayers.ops.gather import take_columns
from sparselayers.ops.simplex import project_simplex
from sparselayers.solvers.svm_lambda_max_barrier import (
    BarrierPoint,
    barrier_saddle_point,
    off_label_classes,
    start,
    to_dual,
)
from sparselayers.solvers.svm_lambda_max_bounds import lower_bound, uniform_off_label, upper_bound


@dataclass(frozen=True)
class Lam1Max:
    """Certified bounds per task: ``lower <= lam1_max <= upper``, ``(upper - lower) / upper
    <= tol`` where ``converged``; ``n_iter`` iterations were run."""

    upper: Tensor
    lower: Tensor
    n_iter: int
    converged: Tensor


@dataclass(frozen=True)
class _Progress:
    """Where the rounds of :func:`lam1_max` stand: the dual point ``L`` (``Λ``, ``(..., n, k)``),
    the certified bounds per task, which tasks are certified, and the iterations spent."""

    L: Tensor
    upper: Tensor
    lower: Tensor
    converged: Tensor
    n_iter: int


def project_off_label(V: Tensor, Y: Tensor) -> Tensor:
    """Projection of each row onto the simplex with its label entry held at 0 (onto 𝒞)."""
    # An entry 2 below the row's minimum is below the threshold (>= max - 1): it projects to 0.
    low = V.amin(-1, keepdim=True) - 2
    return project_simplex(torch.where(Y > 0, low, V))


def project_l21_ball(U: Tensor) -> Tensor:
    """Projection onto ``{Σ_j ||U_j|| <= 1}``: the column norms onto the ℓ1 ball."""
    norms = torch.linalg.vector_norm(U, dim=-2)  # (..., m)
    inside = norms.sum(-1, keepdim=True) <= 1
    shrunk = project_simplex(norms)
    ratio = torch.where(norms > 0, shrunk / torch.where(norms > 0, norms, 1), 0)
    scale = torch.where(inside, torch.ones_like(norms), ratio)
    return U * scale.unsqueeze(-2)


STEP_RATIO = 10.0
"""``τ / σ = STEP_RATIO n``: ``n`` alone balances the diameters of 𝒞 (``√n``) and 𝔹 (1), and 10
times more took 1.3-2.3x fewer iterations to tol 1e-2 (1.2-1.7x to 1e-4) on five feature
families, 5-shot 5-way (ReLU-like correlated non-negative rows, L2-normalized, m = 1,600 and
2,560, where ``n`` alone took 1,900-2,500 iterations; i.i.d. rows; the benchmark's class-mean
heads at m = 1,600 and 16,000); 3 and 30 were in between or worse."""

FIRST_COLUMNS = 64
"""Columns of the first working set (:func:`lam1_max`); it doubles while columns outside it
violate the bound."""


def lam1_max(
    F: Tensor, Y: Tensor, tol: float = 1e-4, max_iter: int = 20_000, check_every: int = 10
) -> Lam1Max:
    """Bounds on ``lam1_max`` for features ``F (..., n, m)`` and one-hot labels ``Y (..., n, k)``
    (no gradient: ``lam1_max`` is a scale, as ``lambda_max`` of the regression problems).

    Working sets of columns: only the columns of largest norm at the saddle point matter (the
    support of ``U``), so the iterations run on the ``s`` columns of largest
    ``||(Y - Λ)^T F_j||``. Both bounds stay certified for the whole problem: ``U`` padded with
    zero columns is in 𝔹, and the upper bound is evaluated on every column after each round;
    columns that exceed it enter a set twice as large.

    Each round first runs the barrier method of ``solvers/svm_lambda_max_barrier.py`` (Newton
    steps, float64, from :data:`FIRST_BARRIER_COLUMNS` columns); tasks it leaves uncertified
    (a failed factorization, :data:`NEWTON_BUDGET` spent) go on with the primal–dual
    iterations below, from its ``Λ``. ``n_iter`` counts both (Newton steps and primal–dual
    iterations), within ``max_iter``.
    """
    with torch.no_grad():
        L = uniform_off_label(Y)
        upper = upper_bound(L, F, Y)
        state = _Progress(L, upper, torch.zeros_like(upper), upper <= 0, 0)
        state = _barrier_rounds(F, Y, state, tol, max_iter)
        if not bool(state.converged.all()) and state.n_iter < max_iter:
            state = _primal_dual_rounds(F, Y, state, tol, max_iter, check_every)
    upper, lower, converged, it = state.upper, state.lower, state.converged, state.n_iter
    if not bool(converged.all()):
        gap = ((upper - lower) / upper.clamp_min(torch.finfo(F.dtype).tiny)).max().item()
        warnings.warn(
            f"lam1_max: relative gap {gap:.2e} > tol {tol:.0e} after {it} iterations "
            "(returning the certified upper bound)",
            RuntimeWarning,
            stacklevel=3,
        )
    return Lam1Max(upper=upper, lower=lower, n_iter=it, converged=converged)


FIRST_BARRIER_COLUMNS = 64
"""Columns of the barrier method's first working set; it doubles while columns outside it
violate the bound."""

NEWTON_BUDGET = 100
"""Newton steps per barrier round (a round takes 10-60 where it succeeds)."""

SEARCH_TOL = 0.1
"""Relative gap to which a round on a working set that may still grow is solved: it only has
to tell which columns enter. Once no column outside the set violates the bound, the same
round goes on to ``tol`` from where it stopped."""

PULL, START_MARGIN = 0.1, 0.5
"""A round on a larger set starts from ``(1 - PULL) Λ + PULL Λ_0`` (strictly inside 𝒞, near
the last ``Λ``) with ``τ = (1 + START_MARGIN) max_j q_j``."""


def _barrier_rounds(F: Tensor, Y: Tensor, state: _Progress, tol: float, max_iter: int) -> _Progress:
    """Working-set rounds of the barrier method from ``state`` (``n_iter`` counts its Newton
    steps).

    Per task: a round on a set that may still grow is solved to :data:`SEARCH_TOL`; if columns
    outside it exceed its certified lower bound (by more than ``tol / 2``), the set doubles and
    the next round starts again near the last ``Λ``; if none do, the next round resumes the
    same one to ``tol / 2`` (and if that one's ``Λ`` shows such columns, the set grows again).
    A round runs on the tasks still going only; sets of different sizes share it through
    padding columns that the barrier leaves out (``live``), so that what a task gets does not
    depend on its batch.
    """
    batch, (n, m), k = state.upper.shape, F.shape[-2:], Y.shape[-1]
    F, Y, L = F.reshape(-1, n, m), Y.reshape(-1, n, k), state.L.reshape(-1, n, k)
    upper, lower = state.upper.flatten(), state.lower.flatten()
    converged = state.converged.flatten()
    Y_64 = Y.double()
    L_0 = uniform_off_label(Y_64)
    classes = off_label_classes(Y)
    sizes = torch.full_like(upper, min(m, FIRST_BARRIER_COLUMNS), dtype=torch.int64)
    searching = sizes < m  # solving loosely to tell which columns enter
    finished = converged.clone()  # tasks the barrier rounds leave alone from now on
    grown = ~finished
    order = sizes.new_zeros(len(sizes), 0)  # (B, width): each task's set comes first
    # Where a task's set resumes from (every task starts afresh in its first round).
    X, tau, mu = L_0.gather(-1, classes), upper.double(), upper.double()
    norms = torch.linalg.vector_norm((Y - L).mT @ F, dim=-2)  # (B, m) at Λ
    it = state.n_iter
    while not bool(finished.all()) and it < max_iter:
        going = (~finished).nonzero().squeeze(-1)
        size, fresh_set = sizes[going], grown[going]
        width = int(size.max())
        kept = torch.nn.functional.pad(order[going], (0, max(0, width - order.shape[-1])))
        fresh = norms[going].topk(width, dim=-1).indices  # sorted: the task's own come first
        order_S = torch.where(fresh_set.unsqueeze(-1), fresh, kept[:, :width])
        live = (torch.arange(width, device=F.device) < size.unsqueeze(-1)).to(torch.float64)
        F_S = take_columns(F[going], order_S).double() * live.unsqueeze(-2)
        Y_S, classes_S = Y_64[going], classes[going]
        L_start = (1 - PULL) * L[going].double() + PULL * L_0[going]
        started = start(F_S, Y_S, live, L_start, classes_S, START_MARGIN)
        point = BarrierPoint(  # the tasks that go on with their set resume where they stopped
            torch.where(fresh_set[:, None, None], started.X, X[going]),
            torch.where(fresh_set, started.tau, tau[going]),
            torch.where(fresh_set, started.mu, mu[going]),
        )
        round_tol = torch.full_like(point.tau, tol / 2)
        round_tol = round_tol.masked_fill(searching[going], max(tol, SEARCH_TOL))
        point, round_lower, ok, spent = barrier_saddle_point(
            F_S,
            Y_S,
            live,
            point,
            round_tol,
            min(NEWTON_BUDGET, max_iter - it),
        )
        it += spent
        X = X.index_copy(0, going, point.X)
        tau, mu = tau.index_copy(0, going, point.tau), mu.index_copy(0, going, point.mu)
        L_S = to_dual(point.X, classes_S, k).to(F.dtype)
        norms_S = torch.linalg.vector_norm((Y[going] - L_S).mT @ F[going], dim=-2)
        upper_S = torch.minimum(upper[going], norms_S.amax(-1))
        lower_S = torch.maximum(lower[going], round_lower.to(F.dtype))
        certified = upper_S - lower_S <= tol * upper_S
        # A column outside the set above the set's certified lower bound may belong to the
        # support: grow (a Newton step costs about as much on twice the columns).
        in_set = torch.zeros_like(norms_S).scatter_reduce(-1, order_S, live.to(F.dtype), "amax")
        outside = norms_S.masked_fill(in_set > 0, 0).amax(-1)
        violated = outside > (1 + tol / 2) * lower_S
        grows = ~certified & ok & violated & (size < m)
        # Done with the barrier: certified, a failed round, or a final round short of tol
        # with no column left to add.
        done = certified | ~ok | (~searching[going] & ~grows)
        L, norms = L.index_copy(0, going, L_S), norms.index_copy(0, going, norms_S)
        upper, lower = upper.index_copy(0, going, upper_S), lower.index_copy(0, going, lower_S)
        converged = converged.index_copy(0, going, certified)
        finished = finished.index_copy(0, going, done)
        grown = torch.zeros_like(grown).index_copy(0, going, grows)
        size = torch.where(grows, (2 * size).clamp_max(m), size)
        sizes = sizes.index_copy(0, going, size)
        searching = searching.index_copy(0, going, grows & (size < m))
        if order.shape[-1] < width:
            order = torch.nn.functional.pad(order, (0, width - order.shape[-1]))
        order[going, :width] = order_S
    bounds = (b.reshape(batch) for b in (upper, lower, converged))
    return _Progress(L.reshape(*batch, n, k), *bounds, it)


def _primal_dual_rounds(
    F: Tensor, Y: Tensor, state: _Progress, tol: float, max_iter: int, check_every: int
) -> _Progress:
    """Working-set rounds of the primal–dual iterations from ``state`` (``O(n s k)`` per
    iteration instead of ``O(n m k)``; 0.17 s at tol 1e-2 and 0.8 s at 1e-4 on 8 tasks of
    5-shot 5-way heads at m = 16,000, one core, float32, where the iterations on all columns
    took 66-97 s and 444 s)."""
    L, upper, lower, converged = state.L, state.upper, state.lower, state.converged
    it = state.n_iter
    m = F.shape[-1]
    size = min(m, FIRST_COLUMNS)
    U = torch.zeros_like(Y.mT @ F)  # (..., k, m): the ℓ21-ball point, zero off the set
    while True:
        if size < m:
            norms = torch.linalg.vector_norm((Y - L).mT @ F, dim=-2)
            order = norms.topk(size, dim=-1, sorted=False).indices
            F_S, U_S = take_columns(F, order), take_columns(U, order)
        else:
            F_S, U_S = F, U
        # From the last round's (L, U) (U's columns that leave the set are dropped: it stays
        # in the ball), so that a round resumes near the saddle point instead of at U = 0.
        L, U_S, lower_S, spent = _saddle_point(
            F_S, Y, L, U_S, tol, max_iter - it, check_every, converged
        )
        U = U_S if size == m else torch.zeros_like(U).scatter(-1, _expand(order, U_S), U_S)
        it += spent
        # Bounds of the whole problem (frozen once certified: a task's result does not depend
        # on the other tasks of its batch).
        upper = torch.where(converged, upper, torch.minimum(upper, upper_bound(L, F, Y)))
        lower = torch.where(converged, lower, torch.maximum(lower, lower_S))
        converged = converged | (upper - lower <= tol * upper)
        if bool(converged.all()) or size == m or it >= max_iter:
            return _Progress(L, upper, lower, converged, it)
        size = min(m, 2 * size)


def _expand(order: Tensor, U: Tensor) -> Tensor:
    """``order (..., s)`` as the index of the columns of ``U (..., k, s)``."""
    return order.unsqueeze(-2).expand(U.shape)


def _saddle_point(
    F: Tensor,
    Y: Tensor,
    L: Tensor,
    U: Tensor,
    tol: float,
    max_iter: int,
    check_every: int,
    frozen: Tensor,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Primal–dual iterations on the columns ``F (..., n, s)`` from ``(L, U)``, until the
    relative gap of *this* problem is at most ``tol`` (or ``max_iter``); returns
    ``(L, U, lower, iterations)``: the point of the smallest upper bound seen, the last ``U``,
    and the best lower bound seen (valid for every problem containing these columns)."""
    YtF = Y.mT @ F  # (..., k, s)
    upper = upper_bound(L, F, Y)
    lower = lower_bound(U, F, Y, YtF)
    spectral = torch.linalg.matrix_norm(F, ord=2).clamp_min(torch.finfo(F.dtype).tiny)
    n = F.shape[-2]
    # τ σ ||F||² = 0.81 < 1, τ / σ = STEP_RATIO n.
    tau = (0.9 * (STEP_RATIO * n) ** 0.5 / spectral)[..., None, None]
    sigma = (0.9 / ((STEP_RATIO * n) ** 0.5 * spectral))[..., None, None]
    L_bar, best = L, L  # best: the point of the smallest upper bound seen (PDHG is not monotone)
    done = frozen | (upper <= 0)
    it = 0
    for it in range(1, max_iter + 1):
        # A task stops where it is certified (its iterates freeze): what it returns does not
        # depend on the other tasks of the batch, which may need more iterations.
        keep = done[..., None, None]
        U = torch.where(keep, U, project_l21_ball(U + sigma * (YtF - L_bar.mT @ F)))
        L_next = torch.where(keep, L, project_off_label(L + tau * (F @ U.mT), Y))
        L_bar, L = 2 * L_next - L, L_next
        if it % check_every == 0 or it == max_iter:
            bound = upper_bound(L, F, Y)
            better = ~done & (bound < upper)
            best = torch.where(better[..., None, None], L, best)
            upper = torch.where(better, bound, upper)
            lower = torch.where(done, lower, torch.maximum(lower, lower_bound(U, F, Y, YtF)))
            done = done | (upper - lower <= tol * upper)
            if bool(done.all()):
                break
    return best, U, lower, it


__all__ = ["Lam1Max", "lam1_max", "lower_bound", "uniform_off_label", "upper_bound"]
