"""Shared by the iterative solvers: flatten the task dims, run, warn, restore the task dims."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import Tensor


def run_on_flat_tasks(
    loop: Callable,
    problem,
    params: tuple[Tensor, ...],
    options,
    warm_start: Tensor | None,
    *,
    warn: bool = True,
    unit: str = "iterations",
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``loop(problem, flat_params, options, flat_warm_start)`` on tasks flattened to one dim.

    The task dims are those of ``params[0]`` before its two trailing dims. Warns (with the
    largest gap reached) when some task did not reach ``options.tol`` within ``max_iter``.
    """
    batch = params[0].shape[:-2]
    flat = tuple(p.reshape(-1, *p.shape[len(batch) :]) for p in params)
    warm = None if warm_start is None else warm_start.reshape(-1, *warm_start.shape[len(batch) :])
    X, gap, n_iter, done = loop(problem, flat, options, warm)
    if warn and not bool(done.all()):
        warnings.warn(
            f"{problem.name}: {int((~done).sum())} of {done.numel()} tasks did not reach "
            f"tol={options.tol:g} within max_iter={options.max_iter} {unit}; largest relative "
            f"duality gap reached {float(gap.max()):.3e}",
            RuntimeWarning,
            stacklevel=5,
        )
    return (
        X.reshape(*batch, *X.shape[1:]),
        gap.reshape(batch),
        n_iter.reshape(batch),
        done.reshape(batch),
    )


def rows(index: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """The rows (tasks) ``index`` of every tensor: one index for all, not one mask each."""
    return tuple(x.index_select(0, index) for x in tensors)


class Results:
    """Outputs ``(B, gap, n_iter, done)`` of a batch of flattened tasks, filled in as tasks
    finish; ``B`` starts as the caller's start, the gap at ``inf``."""

    def __init__(self, B: Tensor) -> None:
        T = B.shape[0]
        self.B = B
        self.gap = torch.full((T,), math.inf, dtype=B.dtype, device=B.device)
        self.n_iter = torch.zeros(T, dtype=torch.int64, device=B.device)
        self.done = torch.zeros(T, dtype=torch.bool, device=B.device)

    def write(self, index: Tensor, B: Tensor, gap: Tensor, n_iter: Tensor, done) -> None:
        self.B = self.B.index_copy(0, index, B)
        self.gap[index] = gap
        self.n_iter[index] = n_iter
        self.done[index] = done

    def offer(self, index: Tensor, B: Tensor, gap: Tensor, n_iter: Tensor, done: Tensor) -> None:
        """Results of one more stage for the tasks ``index``: kept where done or where the gap
        improves on the best so far (a stage that fails keeps the better point of an earlier
        one); ``n_iter`` is the count after this stage for all of them."""
        better = done | (gap < self.gap[index])
        self.write(index[better], B[better], gap[better], n_iter[better], done[better])
        self.n_iter[index] = n_iter

    def astuple(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.B, self.gap, self.n_iter, self.done
