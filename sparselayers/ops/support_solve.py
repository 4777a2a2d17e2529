"""Solve a masked linear system on the support only, at the cost of the support's size.

Optimality systems are written at full size ``d`` with the identity off the support, so that
their shapes never depend on the data. Solving them at full size costs ``O(d^3)`` although only
``s = |S|`` unknowns are free (for the Lasso with m = 256 features and 20 active ones, a 6000x
waste). :func:`solve_masked` gathers the active rows and columns of every task into a
``(s_max, s_max)`` system, ``s_max`` being the largest support of the batch (other tasks are
padded with identity rows), solves it, and scatters the result back.

The gather has a data-dependent size, which ``torch.func.vmap`` cannot trace: callers run it
inside an ``autograd.Function`` whose ``vmap`` rule receives concrete tensors
(``backward/implicit.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from sparselayers.ops.gather import active_first, take_columns, take_rows
from sparselayers.ops.linear import cholesky_solve_ex, pinv

GATHER_ABOVE = 16
"""Systems of at most this size are solved whole, masked, rather than gathered: there the
gathers and the scatter cost more operations than the smaller factorization saves."""


def _compact_solve(A: Tensor, mask: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Returns ``(z, ok)``: ``z`` solves ``A_SS z_S = v_S`` (``z = 0`` off S), ``ok`` per task."""
    if A.shape[-1] <= GATHER_ABOVE:
        return _whole_solve(A, mask, v)
    active = mask > 0
    if not bool(active.any()):
        return torch.zeros_like(v), torch.ones(v.shape[:-1], dtype=torch.bool, device=v.device)
    order, keep = active_first(active)  # active coordinates first, then padding
    size = order.shape[-1]
    keep = keep.to(A.dtype)
    A_s = take_columns(take_rows(A, order), order)
    eye = torch.eye(size, dtype=A.dtype, device=A.device)
    A_s = keep.unsqueeze(-1) * A_s * keep.unsqueeze(-2) + eye * (1 - keep).unsqueeze(-1)
    v_s = torch.gather(v, -1, order) * keep
    # The systems are symmetric positive (semi)definite on the support: Cholesky (not LU, see
    # ops/linear.py); a singular block is reported (not ok) and handled by the caller.
    z_s, ok = cholesky_solve_ex(A_s, v_s.unsqueeze(-1))
    z_s = z_s.squeeze(-1) * keep
    z = torch.zeros_like(v).scatter(-1, order, torch.where(ok.unsqueeze(-1), z_s, 0))
    return z, ok


def _whole_solve(A: Tensor, mask: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """:func:`_compact_solve` at full size: ``A`` masked to its active block, the identity
    elsewhere."""
    eye = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    system = torch.addcmul(A * _outer(mask), eye, (1 - mask).unsqueeze(-1))
    z, ok = cholesky_solve_ex(system, (v * mask).unsqueeze(-1))
    return torch.where(ok.unsqueeze(-1), z.squeeze(-1) * mask, 0), ok


def _outer(mask: Tensor) -> Tensor:
    return mask.unsqueeze(-1) * mask.unsqueeze(-2)


def solve_masked(A: Tensor, mask: Tensor, v: Tensor) -> Tensor:
    """Solve ``A z = v`` on the support ``mask > 0`` of each task; ``z = 0`` off the support.

    Not differentiated (the implicit backward wraps it in an ``autograd.Function``).

    Args:
        A: ``(..., d, d)`` symmetric system (only its active block is read).
        mask: ``(..., d)`` 1 on the support, 0 elsewhere.
        v: ``(..., d)`` right-hand side.

    Returns:
        ``(..., d)``; a task whose active block is singular (e.g. duplicated features) gets the
        minimum-norm solution (callers that can recover, like the Newton polish, use
        :func:`solve_on_support_checked`).
    """
    z, ok = _compact_solve(A, mask, v)
    if not bool(ok.all()):
        bad = ~ok
        z = z.clone()
        z[bad] = (pinv(A[bad] * _outer(mask[bad])) @ (mask[bad] * v[bad])[..., None])[..., 0]
    return z


def solve_system(system: tuple[Tensor, Tensor, Callable, Callable], v: Tensor) -> Tensor:
    """``z`` with ``A z = v`` on the active set, for a problem's ``support_system``
    ``(A, mask, take, put)`` (``problems/protocols.py``) and ``v`` shaped like its variable."""
    A, mask, take, put = system
    v_S = take(v)
    flat = (*v_S.shape[:-2], -1)
    return put(solve_masked(A, mask.reshape(flat), v_S.reshape(flat)).reshape(v_S.shape))


def solve_on_support_checked(A: Tensor, mask: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Like :func:`solve_masked` for ``mask`` and ``v`` shaped like a problem's variable
    ``(..., a, b)`` and ``A (..., ab, ab)``, also returning which tasks were solvable (no
    fallback); ``z`` is shaped like ``v``."""
    flat = (*v.shape[:-2], -1)
    z, ok = _compact_solve(A, mask.reshape(flat), v.reshape(flat))
    return z.reshape(v.shape), ok
