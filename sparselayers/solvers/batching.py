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
    budget: str = "within max_iter={max_iter} iterations",
    *,
    warn: bool = True,
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """``loop(problem, flat_params, options, flat_warm_start)`` on tasks flattened to one dim.

    The task dims are those of ``params[0]`` before its two trailing dims. Warns (with the
    largest gap reached) when some task did not reach ``options.tol``; ``budget`` says what the
    loop's ``max_iter`` counts (formatted with ``max_iter``).
    """
    batch = params[0].shape[:-2]
    flat = tuple(p.reshape(-1, *p.shape[len(batch) :]) for p in params)
    warm = None if warm_start is None else warm_start.reshape(-1, *warm_start.shape[len(batch) :])
    X, gap, n_iter, done = loop(problem, flat, options, warm)
    if warn and not bool(done.all()):
        warnings.warn(
            f"{problem.name}: {int((~done).sum())} of {done.numel()} tasks did not reach "
            f"tol={options.tol:g} {budget.format(max_iter=options.max_iter)}; largest relative "
            f"duality gap reached {float(gap.max()):.3e}",
            RuntimeWarning,
            stacklevel=6,
        )
    return (
        X.reshape(*batch, *X.shape[1:]),
        gap.reshape(batch),
        n_iter.reshape(batch),
        done.reshape(batch),
    )


def rows(index: Tensor, *tensors: Tensor) -> tuple[Tensor, ...]:
    """The rows (tasks) ``index`` of every tensor: one index for all, not one mask each.

    ``index`` holds distinct tasks in increasing order (from ``nonzero`` or a subset of
    ``arange``); when it holds all of them the tensors are returned as they are, not copied
    (a copy of the features of a batch costs a pass over them)."""
    if tensors and index.numel() == tensors[0].shape[0]:
        return tensors
    return tuple(x.index_select(0, index) for x in tensors)


class Outputs:
    """Per-task outputs of a batch of flattened tasks, written as tasks finish.

    Fields are set at construction (their initial values, one row per task) and written with
    :meth:`write`; a value may be a tensor of the written rows or a Python scalar for all.
    """

    def __init__(self, **fields: Tensor) -> None:
        self._names = tuple(fields)
        for name, value in fields.items():
            setattr(self, name, value)

    def write(self, index: Tensor, **values: Tensor | float | bool) -> None:
        """Set the rows ``index`` of each named field (out of place: fields may share storage
        with the caller's tensors)."""
        if not index.numel():
            return
        for name, value in values.items():
            current = getattr(self, name)
            if isinstance(value, Tensor):
                setattr(self, name, current.index_copy(0, index, value.to(current.dtype)))
            else:
                setattr(self, name, current.index_fill(0, index, value))


class Results(Outputs):
    """The solver outputs ``(B, gap, n_iter, done)``: ``B`` starts as the caller's start, the
    gap at ``inf``, ``n_iter`` at ``n_iter`` (default 0), ``done`` false."""

    B: Tensor
    gap: Tensor
    n_iter: Tensor
    done: Tensor

    def __init__(self, B: Tensor, n_iter: int = 0) -> None:
        T = B.shape[0]
        super().__init__(
            B=B,
            gap=torch.full((T,), math.inf, dtype=B.dtype, device=B.device),
            n_iter=torch.full((T,), n_iter, dtype=torch.int64, device=B.device),
            done=torch.zeros(T, dtype=torch.bool, device=B.device),
        )

    def offer(self, index: Tensor, B: Tensor, gap: Tensor, n_iter: Tensor, done: Tensor) -> None:
        """Results of one more stage for the tasks ``index``: kept where done or where the gap
        improves on the best so far (a stage that fails keeps the better point of an earlier
        one); ``n_iter`` is the count after this stage for all of them."""
        better = done | (gap < self.gap[index])
        self.write(index[better], B=B[better], gap=gap[better], done=done[better])
        self.write(index, n_iter=n_iter)

    def astuple(self) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        return self.B, self.gap, self.n_iter, self.done


class Live:
    """The tasks of a flattened batch still being worked on: ``index``, their rows in the whole
    batch, and their per-task state (tensors with one row per task, tuples of them, ``None``,
    or objects with a ``select(index)`` method), as attributes.

    Every solver here shrinks its batch this one way: :meth:`retire` writes the outputs of the
    tasks that leave and keeps the state of the others, so that the cost of an iteration
    follows the unfinished tasks rather than the whole batch.
    """

    def __init__(self, index: Tensor, **state) -> None:
        self.index = index
        self._names = tuple(state)
        for name, value in state.items():
            setattr(self, name, value)

    def __len__(self) -> int:
        return self.index.shape[0]

    def keep(self, which: Tensor) -> None:
        """Keep the tasks ``which`` only: a mask over the live tasks, or their positions."""
        index = which.nonzero().squeeze(-1) if which.dtype == torch.bool else which
        self.index = self.index.index_select(0, index)
        for name in self._names:
            setattr(self, name, _select(getattr(self, name), index))

    def retire(self, leaving: Tensor, out: Outputs | None = None, **values) -> Tensor:
        """Remove the tasks ``leaving`` (a mask over the live tasks) and return their batch
        indices, after writing ``values`` (tensors over the live tasks, or scalars) of those
        tasks to ``out``."""
        gone = self.index[leaving]
        if not gone.numel():
            return gone
        if out is not None:
            out.write(gone, **{k: _masked(v, leaving) for k, v in values.items()})
        self.keep(~leaving)
        return gone


def _masked(value, mask: Tensor):
    return value[mask] if isinstance(value, Tensor) else value


def _select(value, index: Tensor):
    if value is None:
        return None
    if isinstance(value, Tensor):
        return value.index_select(0, index)
    if isinstance(value, tuple):
        return tuple(_select(v, index) for v in value)
    return value.select(index)
