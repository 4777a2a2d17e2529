"""Solver work without autograd's bookkeeping: ``torch.inference_mode``, ordinary tensors out.

Why: the forward solvers (``solvers/table.py``) and the implicit backward's linear solves
(``backward/implicit.py``) are thousands of small operations that autograd never records.
Under ``torch.no_grad`` every one still bumps version counters and tracks views; under
``torch.inference_mode`` it does not, which takes 1-2 µs off an operation of 7-8 µs. Measured
(one thread, min of 7 calls, interleaved rounds, forward under ``no_grad`` against
``inference_mode``, ms): group Lasso T = 64, n = 25, m = 256 (the path) 24.3-26.4 against
19.5-21.5; n = 50, m = 256 21.1-22.5 against 19.7-20.6; the paper's inner problem (T = 8,
n = 50, m = 6) 0.82-0.86 against 0.73-0.74; SVM head (8 tasks, 5-shot 5-way, m = 1,600,
lam1 = 0.5 lam1_max) 21.5-22.4 against 19.5-20.8. The backward's solves in inference mode too
took another 0-8 % off forward + backward (noisier rounds: T = 8, m = 6 1.31 → 1.20 ms;
MetaOptNet's 5-shot head 5.97 → 5.62 ms, 15-shot 27.1 → 25.1 ms).

Tensors made in inference mode cannot be saved for a backward or modified in place outside
it; the results are therefore copied out (a few tensors of the solution's size), so that
callers, autograd and users get ordinary tensors.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

import torch
from torch import Tensor

P = ParamSpec("P")
R = TypeVar("R")


def without_autograd(fn: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """``fn(*args, **kwargs)`` under ``torch.inference_mode``; a result that is a tensor or a
    tuple of tensors (and ``None``) comes back as ordinary tensors."""
    with torch.inference_mode():
        result = fn(*args, **kwargs)
    if isinstance(result, Tensor):
        return result.clone()  # type: ignore[return-value]
    if isinstance(result, tuple):
        return tuple(x.clone() if isinstance(x, Tensor) else x for x in result)  # type: ignore[return-value]
    raise TypeError(f"without_autograd: {fn!r} returned {type(result).__name__}, not tensors")


__all__ = ["without_autograd"]
