"""What every sweep's worker processes share: their pool, start-up and atomic result files.

Sweeps (`harness.disentanglement.sweep`, `harness.meta.experiment`, `harness.section2.study`)
run one training run per "spawn" process (a forked child of a process whose OpenMP pool already
started can hang) with one torch thread each: the runs are many small ops, for which threads
mostly wait on each other, and two single-thread processes use a 2-core machine best.

Ctrl-C reaches every process of the terminal's process group. The workers ignore it, so that
none prints a traceback of its own; the parent gets the ``KeyboardInterrupt``, cancels the work
not started and ends the workers at once (`worker_pool`): the runs in flight lose at most the
steps since their last checkpoint, which is written atomically (`harness.checkpoint`).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import torch
from tqdm import tqdm


def init_worker(threads: int = 1) -> None:
    """``threads`` torch threads per worker, Ctrl-C ignored (the parent handles it); on Linux,
    the worker dies with the process that made it (a sweep killed by a scheduler leaves no
    orphan training on; its checkpoints stay)."""
    torch.set_num_threads(threads)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm's default lock is a multiprocessing one, which a worker ended by `worker_pool`
    # would leave to the resource tracker ("leaked semaphore objects" at exit); a worker draws
    # no bar of the parent's, so a thread lock is enough.
    tqdm.set_lock(threading.RLock())
    if sys.platform == "linux":
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@contextmanager
def worker_pool(workers: int, threads: int = 1) -> Iterator[ProcessPoolExecutor]:
    """``workers`` "spawn" processes started by `init_worker`. On leaving: waits for the work
    submitted; after an error, for the work in flight only (the rest is cancelled); after
    Ctrl-C, for nothing: the workers are ended (SIGTERM)."""
    pool = ProcessPoolExecutor(
        workers, mp_context=get_context("spawn"), initializer=init_worker, initargs=(threads,)
    )
    try:
        yield pool
    except KeyboardInterrupt:
        # ProcessPoolExecutor.terminate_workers is Python >= 3.14; before, the processes are
        # only reachable through the private ``_processes``.
        for process in list((getattr(pool, "_processes", None) or {}).values()):
            process.terminate()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    except BaseException:
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(tmp, path)


__all__ = ["init_worker", "worker_pool", "write_json"]
