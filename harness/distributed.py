"""Data parallelism over tasks with ``torch.distributed`` (launched by ``torchrun`` or alone).

A step's batch of T tasks is split into contiguous shards, one per rank; each rank solves its
tasks' inner problems and averages its outer loss over them; DDP averages the gradients, which
equals the gradient of the loss averaged over all T tasks when the shards have equal sizes (so
T must be a multiple of the world size). Without the torchrun environment variables
(``WORLD_SIZE``, ``RANK``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) everything runs in
one process and every function here is the identity.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.distributed as dist
from torch import nn


@dataclass(frozen=True)
class DistContext:
    """Where this process stands: ``rank`` of ``world_size``, its ``device``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")

    @property
    def is_main(self) -> bool:
        """True on rank 0, the rank that writes files and shows progress."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        """True when a process group is in use (world size > 1)."""
        return self.world_size > 1


def init_distributed(device: str = "cpu") -> DistContext:
    """Join the process group described by the torchrun environment, if any.

    ``device`` is "cpu", "cuda" or "cuda:K"; with several ranks on CUDA, rank r uses
    ``cuda:LOCAL_RANK`` and the NCCL backend, otherwise gloo.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    target = torch.device(device)
    if target.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device: {device!r} requested but CUDA is not available")
        if world_size > 1:
            target = torch.device("cuda", local_rank)
        torch.cuda.set_device(target)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if target.type == "cuda" else "gloo")
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=target)


def shutdown(ctx: DistContext) -> None:
    """Leave the process group (no-op in one process)."""
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


def shard(items: Sequence[int], ctx: DistContext) -> list[int]:
    """The contiguous shard of ``items`` owned by this rank (all of them in one process).

    Raises:
        ValueError: ``len(items)`` is not a multiple of the world size (unequal shards would
            weight tasks unequally in the averaged gradient).
    """
    if len(items) % ctx.world_size:
        raise ValueError(
            f"num_tasks: {len(items)} tasks cannot be split evenly over {ctx.world_size} ranks"
        )
    size = len(items) // ctx.world_size
    return list(items[ctx.rank * size : (ctx.rank + 1) * size])


def wrap_ddp(model: nn.Module, ctx: DistContext) -> nn.Module:
    """``model`` wrapped in DistributedDataParallel when distributed, else ``model`` itself.

    Buffers (e.g. batch-norm running statistics) are broadcast from rank 0 at each forward.
    """
    if not ctx.distributed:
        return model
    device_ids = [ctx.device.index] if ctx.device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or ``model``)."""
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def all_reduce_mean(value: torch.Tensor | float, ctx: DistContext) -> float:
    """The mean of a scalar over ranks (the value itself in one process)."""
    tensor = torch.as_tensor(value, dtype=torch.float64, device=ctx.device).detach().clone()
    if ctx.distributed:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= ctx.world_size
    return float(tensor)


def broadcast_flag(flag: bool, ctx: DistContext) -> bool:
    """True if ``flag`` is true on any rank (so that all ranks stop together)."""
    if not ctx.distributed:
        return flag
    tensor = torch.tensor(float(flag), device=ctx.device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item() > 0)
