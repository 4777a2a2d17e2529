"""Solve a masked linear system on the support only, at the cost of the support's size.

Optimality systems are written at full size ``d`` with the identity off the support, so that
their shapes never depend on the data. Solving them at full size costs ``O(d^3)`` although only
``s = |S|`` unknowns are free (for the Lasso with m = 256 features and 20 active ones, a 6000x
waste). :func:`solve_on_support` gathers the active rows and columns of every task into a
``(s_max, s_max)`` system, ``s_max`` being the largest support of the batch (other tasks are
padded with identity rows), solves it, and scatters the result back.

The gather has a data-dependent size, which ``torch.func.vmap`` cannot trace; the function is
therefore an ``autograd.Function`` whose ``vmap`` rule receives concrete tensors and calls it on
the whole batch at once, so the implicit backward still works under ``vmap``/``jacrev``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from sparselayers._vmap import batch_first
from sparselayers.ops.linear import cholesky_solve_ex, pinv


def _compact_solve(A: Tensor, mask: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Returns ``(z, ok)``: ``z`` solves ``A_SS z_S = v_S`` (``z = 0`` off S), ``ok`` per task."""
    active = mask > 0
    size = int(active.sum(-1).max()) if active.numel() else 0
    if size == 0:
        return torch.zeros_like(v), torch.ones(v.shape[:-1], dtype=torch.bool, device=v.device)
    # Active coordinates first (stable order), then padding.
    order = torch.argsort((~active).to(torch.int8), dim=-1, stable=True)[..., :size]
    keep = torch.gather(active, -1, order).to(A.dtype)
    rows = torch.gather(A, -2, order.unsqueeze(-1).expand(*order.shape, A.shape[-1]))
    A_s = torch.gather(rows, -1, order.unsqueeze(-2).expand(*order.shape[:-1], size, size))
    eye = torch.eye(size, dtype=A.dtype, device=A.device)
    A_s = keep.unsqueeze(-1) * A_s * keep.unsqueeze(-2) + eye * (1 - keep).unsqueeze(-1)
    v_s = torch.gather(v, -1, order) * keep
    # The systems are symmetric positive (semi)definite on the support: Cholesky (not LU, see
    # ops/linear.py); a singular block is reported (not ok) and handled by the caller.
    z_s, ok = cholesky_solve_ex(A_s, v_s.unsqueeze(-1))
    z_s = z_s.squeeze(-1) * keep
    z = torch.zeros_like(v).scatter(-1, order, torch.where(ok.unsqueeze(-1), z_s, 0))
    return z, ok


def _outer(mask: Tensor) -> Tensor:
    return mask.unsqueeze(-1) * mask.unsqueeze(-2)


class _SupportSolve(torch.autograd.Function):
    @staticmethod
    def forward(A, mask, v):
        z, ok = _compact_solve(A, mask, v)
        if not bool(ok.all()):
            # A singular active block (e.g. duplicated features): minimum-norm solution.
            bad = ~ok
            z[bad] = (pinv(A[bad] * _outer(mask[bad])) @ (mask[bad] * v[bad])[..., None])[..., 0]
        return z

    @staticmethod
    def setup_context(ctx, inputs, output):
        A, mask, _v = inputs
        ctx.save_for_backward(A, mask)

    @staticmethod
    def backward(ctx, grad_z):
        # Only ``v`` is differentiated (the systems here are symmetric: A^T = A on S).
        A, mask = ctx.saved_tensors
        return None, None, _SupportSolve.apply(A.mT, mask, grad_z)

    @staticmethod
    def vmap(info, in_dims, A, mask, v):
        return _SupportSolve.apply(*batch_first(info, in_dims, A, mask, v)), 0


def solve_on_support(A: Tensor, mask: Tensor, v: Tensor) -> Tensor:
    """Solve ``A z = v`` on the support ``mask > 0`` of each task; ``z = 0`` off the support.

    Args:
        A: ``(..., d, d)`` system (only its active block is read).
        mask: ``(..., d)`` 1 on the support, 0 elsewhere.
        v: ``(..., d)`` right-hand side.

    Returns:
        ``(..., d)``; a task whose active block is singular gets the minimum-norm solution
        (callers that can recover, like the Newton polish, use :func:`solve_on_support_checked`).
    """
    return _SupportSolve.apply(A, mask, v)


def solve_gathered(A: Tensor, mask: Tensor, v: Tensor) -> Tensor:
    """Solve a system already gathered to its support (the identity off ``mask``), without
    gathering it again; tasks whose active block is singular get the minimum-norm solution.

    Args:
        A: ``(..., d, d)``, the identity on the rows and columns where ``mask`` is 0.
        mask: ``(..., d)``.
        v: ``(..., d)``.
    """
    z, ok = cholesky_solve_ex(A, (mask * v).unsqueeze(-1))
    z = z.squeeze(-1) * mask
    bad = ~ok
    if bool(bad.any()):
        z = z.clone()
        z[bad] = (pinv(A[bad] * _outer(mask[bad])) @ (mask[bad] * v[bad]).unsqueeze(-1)).squeeze(-1)
    return z


def solve_on_support_checked(A: Tensor, mask: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
    """Like :func:`solve_on_support` (no autograd), also returning which tasks were solvable."""
    return _compact_solve(A, mask, v)
