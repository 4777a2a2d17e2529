"""A small problem's solve on one thread, for the calling thread only and for its duration.

Why: the solvers make thousands of small operations (``(T, n, m) @ (T, m, 1)``, gathers,
reductions of ``(T, m)`` tensors). At torch's default thread count (two here) MKL and torch's
OpenMP regions run them on a thread pool, and once other processes occupy the cores (a data
loader, another job) every operation waits for a core: measured on 2 cores beside two busy
processes, a ``(3, 6) @ (6, 64)`` product took 108-589 µs instead of 3 µs, a batched
``(64, 1, 50) @ (64, 50, 64)`` 332 µs instead of 15 µs, and our layers ran up to 80-180x slower
than at one thread. Both pools have a setting local to the calling thread: MKL's
``mkl_set_num_threads_local``, and OpenMP's ``omp_set_num_threads`` (the ``nthreads-var`` of the
thread's data environment, which torch's parallel regions read). They are set to one thread for
the time of a solve and restored after: no process-global setting changes
(``torch.set_num_threads`` is never called; other threads, and the user's own operations after
the call, keep their threads). Large solves, whose products gain from the threads, are left
alone (:data:`SMALL_PROBLEM`). Where torch is not built with MKL or with GNU OpenMP (or the
symbols are not found), the corresponding part does nothing.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
from collections.abc import Callable, Iterator

import torch
from torch import Tensor

SMALL_PROBLEM = 2**18
"""Features (all tasks together) up to which a solve runs on one MKL and one OpenMP thread:
the group-Lasso problems up to 64 x 50 x 64 (2e5) and the paper's inner problem are below;
m = 256 (64 x 50 x 256 = 8e5, 64 x 25 x 256 = 4e5), T = 1,024 and every SVM head of the
benchmarks (8 x 25 x 1,600 = 3.2e5 and more) are above and keep torch's threads (which help
the group-Lasso problems there). Measured on 2 quiet cores, 3 interleaved rounds, forward,
min of 15 (ms; one thread / torch's default / the default with this bound at 2**22):
m = 256 21.4-22.9 / 18.7-19.5 / 21.3-22.3, dense truth 22.8-23.5 / 19.8-20.2 / 22.6-23.4,
m ≫ n 24.4-25.1 / 23.7-24.4 / 24.4-25.4, T = 1,024 40.1-44.0 / 26.5-29.1 / 37.9-47.0; below
the bound m = 64 5.06-5.11 / 5.10-5.33, Toeplitz m = 64 8.62-8.68 / 8.78-8.99, m = 6
0.99-1.00 / 0.99-1.04."""

_setters: tuple[Callable[[int], int], ...] | None = None  # looked up once


def _local_thread_setters() -> tuple[Callable[[int], int], ...]:
    """Functions ``set(n) -> previous`` of the calling thread's MKL and OpenMP thread counts
    (those that torch's build has)."""
    global _setters
    if _setters is None:
        found: list[Callable[[int], int]] = []
        lib = os.path.join(os.path.dirname(torch.__file__), "lib")
        if torch.backends.mkl.is_available():
            try:
                mkl = ctypes.CDLL(os.path.join(lib, "libtorch_cpu.so")).MKL_Set_Num_Threads_Local
                mkl.argtypes, mkl.restype = [ctypes.c_int], ctypes.c_int
                found.append(mkl)
            except (OSError, AttributeError):  # another build: nothing to do
                pass
        try:
            gomp = ctypes.CDLL(os.path.join(lib, "libgomp.so.1"))
            get, put = gomp.omp_get_max_threads, gomp.omp_set_num_threads
            get.restype, put.argtypes = ctypes.c_int, [ctypes.c_int]

            def omp(n: int) -> int:
                previous = get()
                put(n)
                return previous

            found.append(omp)
        except (OSError, AttributeError):
            pass
        _setters = tuple(found)
    return _setters


@contextlib.contextmanager
def small_products(features: Tensor) -> Iterator[None]:
    """Within the block, this thread runs on one MKL and one OpenMP thread if ``features`` (the
    problem's largest input) is a small CPU problem and torch uses several threads."""
    small = features.device.type == "cpu" and features.numel() <= SMALL_PROBLEM
    setters = _local_thread_setters() if small and torch.get_num_threads() > 1 else ()
    previous = [setter(1) for setter in setters]  # MKL: 0 means the global setting
    try:
        yield
    finally:
        for setter, value in zip(setters, previous, strict=True):
            setter(value)


__all__ = ["SMALL_PROBLEM", "small_products"]
