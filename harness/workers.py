"""What every sweep's worker processes share: their start-up and atomic result files.

Sweeps (`harness.disentanglement.sweep`, `harness.meta.experiment`) run one training run per
"spawn" process (a forked child of a process whose OpenMP pool already started can hang) with
one torch thread each: the runs are many small ops, for which threads mostly wait on each other,
and two single-thread processes use a 2-core machine best.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import torch


def init_worker() -> None:
    """One torch thread per worker; on Linux, the worker dies with the process that made it
    (a sweep killed by a scheduler leaves no orphan training on; its checkpoints stay)."""
    torch.set_num_threads(1)
    if sys.platform == "linux":
        import ctypes
        import signal

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def write_json(path: Path, document: dict[str, Any]) -> None:
    """Write ``document`` to ``path`` atomically (a reader never sees half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(tmp, path)


__all__ = ["init_worker", "write_json"]
