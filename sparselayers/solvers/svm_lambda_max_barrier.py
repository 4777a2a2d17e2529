"""``lam1_max`` on a few columns by a barrier (interior-point) method, batched over tasks.

On the columns ``F (..., n, s)`` of a working set (``solvers/svm_lambda_max.py``), with
``V(Λ) = (Y - Λ)^T F`` (k, s) and ``q_j(Λ) = ||V_j(Λ)||²``, the squared problem

    min_{Λ ∈ 𝒞, τ}  τ   s.t.  q_j(Λ) <= τ  (j = 1..s),
    𝒞 = {Λ (n, k): Λ >= 0, Λ 1 = 1, Λ[i, y_i] = 0}

is solved along its central path (Boyd & Vandenberghe 2004, §11.3): for decreasing ``μ``,
Newton's method on

    φ_μ(X, τ) = τ / μ - Σ_j log(τ - q_j) - Σ_{i, c} log X_ic,   X 1 = 1,

in the off-label entries ``X (..., n, k - 1)`` of ``Λ`` (``X_ic = Λ[i, classes_ic]``). Its
minimizer gives the dual weights ``θ_j = μ / (τ - q_j)`` (``Σ_j θ_j = 1``), and the point of
the ℓ_{2,1} ball ``U_j ∝ θ_j V_j`` (scaled onto its sphere) the certified lower bound of
``solvers/svm_lambda_max.py``; ``Λ`` gives its upper bound. What the method returns is checked
by the duality gap of the original problem, not trusted.

Why: the primal–dual hybrid gradient iterations need 1,000-3,000 iterations to a relative gap
of 1e-2 on the normalized ReLU features of a Conv4 backbone (``lam1_max`` is small there,
0.15-0.45 against the bound ``n √(k / (k - 1))``: a badly scaled problem for a first-order
method), where Newton's method on a working set of 64-256 columns takes 20-40 steps.

A step: the gradient and Hessian of ``φ_μ`` in ``N = n (k - 2) + 1`` unknowns (each row's
change ``ΔX_i = Q δ_i`` in a basis ``Q`` of the directions of zero sum, which holds the row
sums, and ``Δτ``; the ``Σ_j ∇q_j ∇q_jᵀ / r_j²`` part is one ``Z Zᵀ``, the
``Σ_j ∇²q_j / r_j`` part ``2 F diag(1/r) Fᵀ`` on the pairs of entries of the same class), and
one Cholesky factorization. The step length minimizes ``φ_μ``
over a geometric grid of lengths below and above the Newton step (entries of ``X`` that should
grow are otherwise only doubled per step), cheap because ``q_j`` is quadratic along a line.
``μ`` falls by :data:`MU_FACTOR` once a step's Newton decrement is below :data:`CENTERED`.
Everything runs in the dtype of ``F`` (float64 from the caller: the working set is small).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from sparselayers.solvers.svm_lambda_max_bounds import lower_bound

MU_FACTOR = 3.0
"""``μ`` is divided by this once the iterate is centered. On 16 Conv4 heads (5- and 15-shot,
128 columns): 3 took 22-36 steps to tol 1e-2 and 45-59 to 1e-4; 10 took 19-23 on 5-shot but
up to 142 on 15-shot (damped Newton crawling after each cut of ``μ``), 30 and 100 failed."""

CENTERED = 0.5
"""Newton decrement ``λ²`` below which the iterate counts as centered (2 failed on 15-shot)."""

STALLED = 1e-3
"""A task stops (not ok) once ``μ · constraints < STALLED · tol · τ`` without a certificate:
the barrier's own gap is then a thousand times below what the certificate asks for."""

STEP_GRID = tuple(1.6**i for i in range(12, -31, -1))
"""Step lengths tried along each Newton direction (281 down to 7e-7); 0 is always allowed."""


@dataclass(frozen=True)
class BarrierPoint:
    """Where the barrier method stands: off-label entries ``X (..., n, k - 1)`` (> 0, rows sum
    to 1), ``tau (...)`` and ``mu (...)``; a later call resumes from it."""

    X: Tensor
    tau: Tensor
    mu: Tensor


def off_label_classes(Y: Tensor) -> Tensor:
    """``classes (..., n, k - 1)`` int64: the classes other than ``y_i``, in order."""
    k = Y.shape[-1]
    order = torch.arange(k, device=Y.device).expand(Y.shape)
    # Stable: the label sorts last, the others keep their order.
    return torch.sort(order + k * (Y > 0), dim=-1).values[..., : k - 1]


def to_dual(X: Tensor, classes: Tensor, k: int) -> Tensor:
    """``Λ (..., n, k)`` from its off-label entries."""
    return X.new_zeros(*X.shape[:-1], k).scatter(-1, classes, X)


def start(
    F: Tensor, Y: Tensor, live: Tensor, L: Tensor, classes: Tensor, margin: float
) -> BarrierPoint:
    """A start from ``Λ`` strictly inside 𝒞: ``τ = (1 + margin) max_j q_j`` and ``μ`` at which
    the ``τ`` part of the gradient vanishes (``Σ_j μ / r_j = 1``)."""
    q = ((Y - L).mT @ F).square().sum(-2) * live
    tau = (1 + margin) * q.amax(-1) + torch.finfo(F.dtype).tiny
    mu = 1 / (live / (tau.unsqueeze(-1) - q)).sum(-1)
    return BarrierPoint(L.gather(-1, classes), tau, mu)


def barrier_saddle_point(
    F: Tensor,
    Y: Tensor,
    live: Tensor,
    point: BarrierPoint,
    tol: Tensor,
    max_iter: int,
) -> tuple[BarrierPoint, Tensor, Tensor, int]:
    """Newton steps on the central path from ``point`` until the relative gap of *this*
    problem is at most ``tol``.

    Args:
        F: ``(..., n, s)`` working-set columns. Y: ``(..., n, k)`` one-hot labels.
        live: ``(..., s)`` 1 on a task's own columns, 0 on the padding of a smaller set.
        point: the start (``τ > q_j`` on the live columns). tol: ``(...)`` per task.

    Returns:
        ``(point, lower, ok, steps)``: the last point, the best certified lower bound seen, and
        ``ok`` where the gap reached ``tol`` (False where a factorization failed or the budget
        ran out: the caller goes on another way).
    """
    k = Y.shape[-1]
    classes = off_label_classes(Y)
    YtF = Y.mT @ F
    grid = F.new_tensor(STEP_GRID)
    basis = _row_sum_free_basis(k - 1, F.dtype, F.device)
    rows = _reduced_rows(classes, basis, k)
    pairs = rows @ rows.mT  # (P_iᵀ P_j)_ab: which reduced unknowns share a class
    F_rep = F.repeat_interleave(k - 2, dim=-2)  # (..., n (k - 2), s)
    X, tau, mu = point.X, point.tau, point.mu
    lower = torch.full_like(tau, -torch.inf)
    done = ok = torch.zeros_like(tau, dtype=torch.bool)
    steps = 0
    constraints = live.sum(-1) + X.shape[-2] * X.shape[-1]
    for _ in range(max_iter + 1):  # the last pass only checks the last step
        V = (Y - to_dual(X, classes, k)).mT @ F  # (..., k, s)
        q = V.square().sum(-2) * live
        r = tau.unsqueeze(-1) - q  # > 0 on the path
        # Rounding can break that (or the factorization) once μ is tiny: such a task stops,
        # not ok, with its last lower bound; as does one whose μ is far below what its gap
        # needs (μ · constraints bounds the barrier's own gap) without a certificate.
        broken = ~((r > 0) | (live == 0)).all(-1)
        stalled = mu * constraints < STALLED * tol * tau
        done = done | broken | stalled
        U = V * (live / r).unsqueeze(-2)  # θ_j V_j (θ_j = μ / r_j, up to the scale)
        U = U / torch.linalg.vector_norm(U, dim=-2).sum(-1).clamp_min(1e-300)[..., None, None]
        bound = lower_bound(U, F, Y, YtF)
        lower = torch.where(done | bound.isnan(), lower, torch.maximum(lower, bound))
        upper = q.amax(-1).sqrt()
        reached = ~done & (upper - lower <= tol * upper)
        ok, done = ok | reached, done | reached
        if bool(done.all()) or steps == max_iter:
            break
        steps += 1
        inv_r = live / r
        dX, dtau, decrement, factored = _newton_step(F, F_rep, X, V, inv_r, mu, rows, pairs, basis)
        done = done | ~factored
        alpha = _step_length(V, F, live, X, tau, q, mu, dX, dtau, classes, grid)
        alpha = torch.where(done, 0.0, alpha)
        X = X + alpha[..., None, None] * dX
        tau = tau + alpha * dtau
        mu = torch.where(~done & (decrement < CENTERED), mu / MU_FACTOR, mu)
    return BarrierPoint(X, tau, mu), lower, ok, steps


def _row_sum_free_basis(d: int, dtype: torch.dtype, device: torch.device) -> Tensor:
    """``Q (d, d - 1)``, orthonormal columns spanning ``{v: 1ᵀ v = 0}``."""
    if d == 1:
        return torch.zeros(1, 0, dtype=dtype, device=device)
    centered = torch.eye(d, dtype=dtype, device=device) - 1 / d
    return torch.linalg.qr(centered[:, : d - 1]).Q


def _reduced_rows(classes: Tensor, basis: Tensor, k: int) -> Tensor:
    """``R (..., n (k - 2), k)``: row ``(i, a)`` is the change of ``Λ_i`` along ``Q_a``
    (``Q``'s column ``a`` put at the off-label classes of sample ``i``)."""
    *batch, n, d = classes.shape
    P = basis.new_zeros(*batch, n, k, d - 1).scatter(
        -2, classes.unsqueeze(-1).expand(*batch, n, d, d - 1), basis.expand(*batch, n, d, d - 1)
    )
    return P.mT.flatten(-3, -2)


def _newton_step(
    F: Tensor,
    F_rep: Tensor,
    X: Tensor,
    V: Tensor,
    inv_r: Tensor,
    mu: Tensor,
    rows: Tensor,
    pairs: Tensor,
    basis: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Newton direction of ``φ_μ`` with the row sums held: ``(ΔX, Δτ, λ², factored)``.

    The row sums are held by the unknowns: ``ΔX_i = Q δ_i``, ``Q`` a basis of the directions
    of zero sum, so that ``ΔΛ = Rᵀ δ`` (``rows``); ``n (k - 2) + 1`` unknowns, one Cholesky
    factorization."""
    *batch, n, s = F.shape
    e = basis.shape[-1]  # k - 2
    # h_j / r_j = (∂q_j / ∂δ, -1) / r_j with ∂q_j / ∂δ_ia = -2 F_ij (R V)_(ia) j.
    Z_t = torch.cat([-2 * F_rep * (rows @ V), -torch.ones_like(inv_r).unsqueeze(-2)], -2)
    Z_t = Z_t * inv_r.unsqueeze(-2)  # (..., n (k - 2) + 1, s)
    grad = Z_t.sum(-1)
    inv_X = 1 / X
    grad[..., :-1] -= (inv_X @ basis).flatten(-2)
    grad[..., -1] += 1 / mu
    H = Z_t @ Z_t.mT
    # Σ_j ∇²q_j / r_j = (2 F diag(1/r) Fᵀ)_ij (R_i R_jᵀ)_ab, and the log X barrier: per
    # sample, Qᵀ diag(1 / X_i²) Q.
    curvature = 2 * (F * inv_r.unsqueeze(-2)) @ F.mT  # (..., n, n)
    block = H[..., :-1, :-1]
    block += curvature.repeat_interleave(e, -1).repeat_interleave(e, -2) * pairs
    barrier = (basis.mT * inv_X.square().unsqueeze(-2)) @ basis  # (..., n, e, e)
    block.unflatten(-1, (n, e)).unflatten(-3, (n, e)).diagonal(dim1=-4, dim2=-2).add_(
        barrier.movedim(-3, -1)
    )
    factor, info = torch.linalg.cholesky_ex(H)
    step = -torch.cholesky_solve(grad.unsqueeze(-1), factor).squeeze(-1)
    decrement = -(grad * step).sum(-1)
    factored = (info == 0) & torch.isfinite(step).all(-1)
    step = torch.where(factored.unsqueeze(-1), step, 0.0)
    dX = step[..., :-1].unflatten(-1, (n, e)) @ basis.mT
    return dX, step[..., -1], decrement, factored


def _step_length(
    V: Tensor,
    F: Tensor,
    live: Tensor,
    X: Tensor,
    tau: Tensor,
    q: Tensor,
    mu: Tensor,
    dX: Tensor,
    dtau: Tensor,
    classes: Tensor,
    grid: Tensor,
) -> Tensor:
    """The length on ``grid`` (or 0) that minimizes ``φ_μ`` along ``step`` and stays inside:
    ``q_j(α) = q_j + α a_j + α² b_j`` with ``W = -ΔΛᵀ F``."""
    W = -to_dual(dX, classes, V.shape[-2]).mT @ F
    a = 2 * (V * W).sum(-2)
    b = W.square().sum(-2)
    al = grid[:, None]
    tau_a = tau.unsqueeze(-1) + grid * dtau.unsqueeze(-1)  # (..., G)
    r_a = tau_a.unsqueeze(-1) - (q.unsqueeze(-2) + al * a.unsqueeze(-2) + al**2 * b.unsqueeze(-2))
    X_a = X.flatten(-2).unsqueeze(-2) + al * dX.flatten(-2).unsqueeze(-2)  # (..., G, n (k - 1))
    inside = ((r_a > 0) | (live.unsqueeze(-2) == 0)).all(-1) & (X_a > 0).all(-1)
    phi = (
        tau_a / mu.unsqueeze(-1)
        - (torch.log(r_a.clamp_min(1e-300)) * live.unsqueeze(-2)).sum(-1)
        - torch.log(X_a.clamp_min(1e-300)).sum(-1)
    )
    phi_0 = (
        tau / mu - (torch.log(tau.unsqueeze(-1) - q) * live).sum(-1) - torch.log(X).sum((-2, -1))
    )
    best, at = torch.where(inside, phi, torch.inf).min(-1)
    return torch.where(best < phi_0, grid[at], 0.0)
