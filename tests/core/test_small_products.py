"""``ops/threads.small_products``: a small solve on one thread, for the calling thread only,
restored afterwards (no process-global setting changes)."""

import threading

import torch

import sparselayers as sl
import sparselayers.ops.threads as threads


def test_settings_are_set_for_small_cpu_problems_only_and_restored(monkeypatch):
    calls: list[int] = []
    state = {"n": 7}

    def setter(n: int) -> int:
        calls.append(n)
        previous, state["n"] = state["n"], n
        return previous

    monkeypatch.setattr(threads, "_setters", (setter,))
    monkeypatch.setattr(torch, "get_num_threads", lambda: 2)
    with threads.small_products(torch.zeros(4, 10, 6)):
        assert state["n"] == 1
    assert state["n"] == 7 and calls == [1, 7]
    big = torch.zeros(threads.SMALL_PROBLEM + 1)
    with threads.small_products(big):
        assert state["n"] == 7  # large problems keep their threads
    try:
        with threads.small_products(torch.zeros(3)):
            raise RuntimeError("inside")
    except RuntimeError:
        pass
    assert state["n"] == 7  # restored on errors too
    monkeypatch.setattr(torch, "get_num_threads", lambda: 1)
    with threads.small_products(torch.zeros(3)):
        assert state["n"] == 7  # one torch thread: nothing to do


def test_a_solve_leaves_the_thread_settings_as_they_were():
    """The real setters (MKL and GNU OpenMP where torch has them): torch's thread count and the
    calling thread's OpenMP count are the same after a solve as before, and another thread
    solving at the same time does not change them either."""
    before = torch.get_num_threads()
    omp = [s for s in threads._local_thread_setters() if s.__name__ == "omp"]
    omp_before = omp[0](before) if omp else None  # read (and keep) the current value
    F, y = torch.randn(8, 20, 6), torch.randn(8, 20)
    worker = threading.Thread(target=lambda: sl.functional.group_lasso(F, y, 0.1, relative=True))
    worker.start()
    sl.functional.group_lasso(F.requires_grad_(), y, 0.1, relative=True).weights.sum().backward()
    worker.join()
    assert torch.get_num_threads() == before
    if omp:
        assert omp[0](omp_before) == omp_before
