"""What the ``vmap`` rules of the library's ``autograd.Function``s share.

A rule receives its inputs unbatched, with the vmapped dim of each (``None`` where an input is
not batched); the library's functions are batched over leading dims already, so each rule moves
that dim to the front and calls the function once on the whole batch.
"""

from __future__ import annotations

from torch import Tensor


def batch_first(info, in_dims, *inputs: Tensor | None) -> list[Tensor | None]:
    """``inputs`` with their vmapped dim first (broadcast there when not batched)."""
    return [_first(x, dim, info.batch_size) for x, dim in zip(inputs, in_dims, strict=True)]


def _first(x: Tensor | None, dim: int | None, size: int) -> Tensor | None:
    if x is None:
        return None
    return x.expand(size, *x.shape) if dim is None else x.movedim(dim, 0)
