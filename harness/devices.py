"""The ``--device`` of every command, checked before any work: a message, not a traceback."""

from __future__ import annotations

import argparse

import torch


def check_device(value: str, name: str = "device") -> torch.device:
    """``torch.device(value)``, or a ``ValueError`` naming ``name`` when ``value`` is not a
    device or asks for CUDA that this torch build or machine does not have."""
    try:
        device = torch.device(value)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"{name}: {value!r} is not a torch device; use cpu, cuda or cuda:K"
        ) from err
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(
                f"{name}: {value!r} asks for CUDA, but this torch build has no usable CUDA "
                "device (torch.cuda.is_available() is False); use --device cpu, or install a "
                'CUDA build of torch (make install TORCH_SPEC="torch>=2.4,<3")'
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(
                f"{name}: {value!r}, but this machine has {torch.cuda.device_count()} CUDA "
                "device(s)"
            )
    elif device.type != "cpu":
        raise ValueError(f"{name}: {value!r}; the harness runs on cpu or cuda")
    return device


def device_argument(value: str) -> str:
    """``type=`` of a ``--device`` flag: argparse then names the flag in its error."""
    try:
        check_device(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err).removeprefix("device: ")) from err
    return value


THREADS_HELP = (
    "torch CPU threads of each process (default 1, for every command: the runs are many small "
    "ops, for which threads mostly wait on each other; on a busy 2-core machine 2 threads ran "
    "several times slower than 1; sweep worker processes always use 1)"
)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """The ``--threads`` flag, with the one default and help text of every command."""
    parser.add_argument("--threads", type=threads_argument, default=1, help=THREADS_HELP)


def threads_argument(value: str) -> int:
    """``type=`` of ``--threads``: an int >= 1 (argparse names the flag otherwise)."""
    try:
        threads = int(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not an int") from err
    if threads < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {threads}")
    return threads
