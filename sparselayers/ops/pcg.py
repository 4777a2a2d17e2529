"""Preconditioned conjugate gradients, batched over tasks, for the systems too costly to form.

The implicit backward solves ``H z = v`` with ``H`` the reduced Hessian on the active set
(``backward/implicit.py``). Forming ``H`` costs ``O(d² s)`` for a Hessian that is a sum of ``s``
rank-``k`` terms of size ``d`` (the SVM head in feature form: ``d = n k``, ``s`` active columns),
which dominates the backward of large heads: ``1.35e9`` multiply-adds per task for a 15-shot
5-way head with 16,000 active columns (0.47 s for 8 tasks on one core, three times its forward).
Conjugate gradients need products with ``H`` only (two passes over the ``s`` columns each) and,
with a preconditioner close to ``H``, a handful of them: :data:`DIRECT_SOLVE_BUDGET` and
:data:`DIRECT_SOLVE_COLUMNS` decide.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

DIRECT_SOLVE_BUDGET = 1e8
"""Above this many multiply-adds per task for forming an implicit system, it is solved by
preconditioned conjugate gradients instead (when the problem offers them). Measured on one
core, 8 tasks, float32, the group-lasso SVM head: forming cost 0.05 s at 2.5e8 (5-shot,
m = 16,000) and 0.38-0.47 s at 0.8-1.35e9 (15-shot), against 0.003 / 0.03 s for the
preconditioner and 4-8 iterations of two passes over the active columns."""

DIRECT_SOLVE_COLUMNS = 600
"""Above this many active columns (the rank-``k`` terms that sum to ``H``) conjugate gradients
are used too, whatever the forming cost: the crossover sits near this number of columns at 5
and at 15 shots, where the budget alone formed every 5-shot system up to 6,400 columns.
Measured on one core, 8 tasks of 5-way heads, float32, ``tol = 1e-4``, backward alone, min of
4 calls over 4-6 interleaved rounds, direct against conjugate gradients: 5-shot
(``n k = 125``) 12.1 against 11.8 ms at 780 columns, 11.6 against 9.1 ms at 1,550, 50 against
41.5 ms at 5,195, 12 against 9 ms on Conv4 features (1,586 columns); 15-shot (``n k = 375``)
20 against 53 ms at 70 columns, 23 against 29 ms at 325, 37 against 25.5 ms at 867."""

MAX_ITERATIONS = 60
"""Iterations of :func:`conjugate_gradients` before a task is reported unconverged (the heads
above converged in 4-25)."""


def relative_tolerance(dtype: torch.dtype) -> float:
    """Residual ``||r|| / ||b||`` at which conjugate gradients stop: ten rounding units, the
    accuracy of a direct solve of a well-conditioned system."""
    return 10 * torch.finfo(dtype).eps


def conjugate_gradients(
    product: Callable[[Tensor], Tensor],
    precondition: Callable[[Tensor], Tensor],
    b: Tensor,
    *,
    rtol: float,
    max_iter: int = MAX_ITERATIONS,
) -> tuple[Tensor, Tensor]:
    """Solve ``H x = b`` for symmetric positive definite ``H``, given by its ``product``.

    Args:
        product: ``x -> H x`` on tensors shaped like ``b``.
        precondition: ``r -> M⁻¹ r`` for a symmetric positive definite ``M ≈ H``.
        b: ``(..., p, q)`` right-hand sides; each task (leading index) is its own system and
            its inner products run over the last two dims.
        rtol: stop a task once ``||b - H x|| <= rtol ||b||`` (the recursively updated residual).
        max_iter: at most this many products.

    Returns:
        ``(x, converged)``, ``converged (...)`` bool: the residual reached ``rtol`` (and the
        true residual ``sqrt(eps)``). A task whose residual has reached ``rtol`` is frozen (its
        step is zero) while the others go on.
    """

    def dot(u: Tensor, v: Tensor) -> Tensor:
        return (u * v).sum((-2, -1), keepdim=True)

    x = torch.zeros_like(b)
    r = b.clone()
    goal = rtol * dot(b, b).sqrt()
    z = precondition(r)
    p = z.clone()
    rz = dot(r, z)
    live = dot(r, r).sqrt() > goal
    for _ in range(max_iter):
        if not bool(live.any()):
            break
        Hp = product(p)
        curvature = dot(p, Hp)
        alpha = torch.where(live & (curvature > 0), rz / curvature, torch.zeros_like(rz))
        x.addcmul_(alpha, p)
        r.addcmul_(alpha, Hp, value=-1)
        z = precondition(r)
        rz_next = dot(r, z)
        beta = torch.where(live, rz_next / rz.clamp_min(torch.finfo(b.dtype).tiny), 0)
        p = z + beta * p
        rz = rz_next
        live = live & (dot(r, r).sqrt() > goal) & (curvature > 0)
    # The recursive residual drifts from the true one in floating point: the true one is
    # checked too, against the square root of the rounding unit (a failed solve is far above).
    true = b - product(x)
    sane = dot(true, true).sqrt() <= torch.finfo(b.dtype).eps ** 0.5 * dot(b, b).sqrt()
    converged = ~live & sane & torch.isfinite(x).all(-1, keepdim=True).all(-2, keepdim=True)
    return x, converged.squeeze(-1).squeeze(-1)


__all__ = [
    "DIRECT_SOLVE_BUDGET",
    "DIRECT_SOLVE_COLUMNS",
    "conjugate_gradients",
    "relative_tolerance",
]
