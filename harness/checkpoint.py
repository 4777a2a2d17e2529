"""Atomic checkpoints: save, load and resume the state of a training run.

A checkpoint is one ``torch.save`` file holding a dict (model and optimizer ``state_dict``s, the
step, early-stopping state, ...). It is written to a temporary file in the same directory and
moved over the old one with ``os.replace``, so a run killed while saving keeps its previous
checkpoint intact: an interrupted run loses at most the steps since its last save.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import torch

CHECKPOINT_FILENAME = "checkpoint.pt"


def save_checkpoint(path: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` to ``path`` atomically (temporary file + ``os.replace``); return ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any] | None:
    """The state saved at ``path``, or ``None`` if there is no checkpoint there.

    Raises:
        ValueError: the file exists but is not a checkpoint written by `save_checkpoint`.
    """
    path = Path(path)
    if not path.is_file():
        return None
    try:
        state = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as err:  # a truncated or foreign file: say which one
        raise ValueError(f"checkpoint: {str(path)!r} cannot be read ({err})") from err
    if not isinstance(state, dict):
        raise ValueError(f"checkpoint: {str(path)!r} does not hold a dict")
    return state


def resume_modules(
    state: dict[str, Any] | None, **modules: torch.nn.Module | torch.optim.Optimizer
) -> int:
    """Load ``state[name]`` into each named module/optimizer; return the saved ``step`` (0 if
    ``state`` is None). Keys: the keyword names, plus ``"step"``."""
    if state is None:
        return 0
    for name, module in modules.items():
        if name not in state:
            raise ValueError(f"checkpoint: no entry {name!r}; it has {sorted(state)}")
        module.load_state_dict(state[name])
    return int(state.get("step", 0))
