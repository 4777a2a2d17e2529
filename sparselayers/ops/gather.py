"""Gather the active positions of every task: the one way the library restricts to a support.

Supports differ from task to task, so a batch works on the largest one: every task's active
positions come first (in their order), padded with inactive ones up to the largest count ``s``
of the batch, and a ``keep`` mask says which of the ``s`` slots are real. Solvers and backward
passes then run on ``s`` columns instead of ``m`` (the Lasso's support, the SVM's active
columns, the faces of its dual) and scatter the result back.
"""

from __future__ import annotations

import torch
from torch import Tensor


def active_first(on: Tensor) -> tuple[Tensor, Tensor]:
    """The positions of ``on (..., d)`` (bool), active ones first: ``order (..., s)`` int64 and
    ``keep (..., s)`` bool (false on the padding), ``s = max(1, largest count of the batch)``.

    A stable partition by prefix sums, ``O(d)``: a stable ``argsort`` of the mask took 1.4 ms
    per call at d = 16,000 (SVM heads), ``topk`` of a 0/1 mask is not stable.
    """
    count = on.sum(-1, keepdim=True)
    size = max(int(count.max()), 1) if on.numel() else 1
    flags = on.to(torch.int64)
    position = torch.where(on, flags.cumsum(-1), count + (1 - flags).cumsum(-1)) - 1
    positions = torch.arange(on.shape[-1], device=on.device).expand(on.shape)
    order = torch.empty_like(position).scatter_(-1, position, positions)[..., :size]
    return order, torch.gather(on, -1, order)


def take_columns(X: Tensor, order: Tensor) -> Tensor:
    """``X[..., :, order]`` per task: ``X (..., r, m)``, ``order (..., s)`` → ``(..., r, s)``."""
    return torch.gather(X, -1, order.unsqueeze(-2).expand(*X.shape[:-1], order.shape[-1]))


def take_rows(X: Tensor, order: Tensor, tasks: Tensor | None = None) -> Tensor:
    """``X[..., order, :]`` per task: ``X (..., m, r)`` (broadcast over the task dims of
    ``order``), ``order (..., s)`` → ``(..., s, r)``; with ``tasks (t,)``, the rows of those
    tasks of ``X (T, m, r)`` for ``order (t, s)`` (no copy of their other rows).

    ``index_select`` on the rows of the flattened tasks copies whole rows: 4x faster than the
    advanced indexing ``X[tasks, order]`` (which indexes per element) and 14x faster than
    ``torch.gather`` with an expanded index (measured on 5-shot SVM heads at m = 16,000).
    """
    m, r = X.shape[-2:]
    if tasks is None:
        batch = order.shape[:-1]
        flat = X.expand(*batch, m, r).reshape(-1, r)
        tasks = torch.arange(flat.shape[0] // m if m else 0, device=X.device)
    else:
        batch, flat = tasks.shape, X.reshape(-1, r)
    index = (order.reshape(-1, order.shape[-1]) + m * tasks.unsqueeze(-1)).reshape(-1)
    return flat.index_select(0, index).reshape(*batch, order.shape[-1], r)


def put_rows(like: Tensor, order: Tensor, rows: Tensor) -> Tensor:
    """A zero tensor shaped like ``like (..., m, r)`` with ``rows (..., s, r)`` at ``order``
    (out of place, so that ``vmap`` can batch it); padding rows must be zero."""
    return torch.zeros_like(like).scatter(-2, order.unsqueeze(-1).expand(rows.shape), rows)
