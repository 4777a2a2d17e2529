"""Data parallelism over tasks (harness.distributed): 2 gloo processes = 1 process."""

import os
import socket
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from harness.disentanglement.methods import MethodConfig, TaskRegression
from harness.distributed import (
    DistContext,
    all_reduce_mean,
    broadcast_flag,
    init_distributed,
    shard,
    shutdown,
    wrap_ddp,
)

TASKS, N, M, STEPS = 4, 12, 3, 3


def _data(step: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(step)
    return torch.randn(TASKS, N, 5, generator=g), torch.randn(TASKS, N, generator=g)


def _train(ctx: DistContext) -> torch.Tensor:
    """A tiny encoder trained through the inner Lasso on this rank's shard of each batch."""
    torch.manual_seed(0)
    encoder = torch.nn.Linear(5, M)
    model = wrap_ddp(encoder, ctx)
    head = TaskRegression(MethodConfig("inner-lasso", 0.1, tol=5e-7))
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    ids = shard(range(TASKS), ctx)
    for step in range(STEPS):
        x, y = _data(step)
        loss, _ = head(model(x[ids]), y[ids])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert all_reduce_mean(loss.detach(), ctx) > 0
        assert broadcast_flag(ctx.rank == 1, ctx) is ctx.distributed
    return torch.cat([p.detach().flatten() for p in encoder.parameters()])


def _join(rank: int, port: int) -> DistContext:
    """Join the 2-process gloo group on localhost as ``rank`` (one torch thread each)."""
    os.environ.update(
        {
            "MASTER_ADDR": "127.0.0.1",
            "MASTER_PORT": str(port),
            "WORLD_SIZE": "2",
            "RANK": str(rank),
            "LOCAL_RANK": str(rank),
        }
    )
    torch.set_num_threads(1)
    return init_distributed("cpu")


def _worker(rank: int, port: int, out: str) -> None:
    ctx = _join(rank, port)
    try:
        params = _train(ctx)
        torch.save(params, Path(out) / f"rank{rank}.pt")
    finally:
        shutdown(ctx)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_shard() -> None:
    assert shard(range(8), DistContext(rank=1, world_size=4)) == [2, 3]
    assert shard(range(3), DistContext()) == [0, 1, 2]
    with pytest.raises(ValueError, match="cannot be split evenly"):
        shard(range(3), DistContext(rank=0, world_size=2))


def test_single_process_is_identity(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    ctx = init_distributed("cpu")
    assert (ctx.rank, ctx.world_size, ctx.is_main, ctx.distributed) == (0, 1, True, False)
    model = torch.nn.Linear(1, 1)
    assert wrap_ddp(model, ctx) is model
    assert all_reduce_mean(2.5, ctx) == 2.5


def test_two_gloo_processes_match_one(tmp_path: Path) -> None:
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    reference = _train(DistContext())
    for rank in range(2):
        params = torch.load(tmp_path / f"rank{rank}.pt")
        torch.testing.assert_close(params, reference, rtol=1e-5, atol=1e-6)


def _train_worker(rank: int, port: int, out: str) -> None:
    """The experiment's own training loop on 2 ranks (tiny images, small grid)."""
    from harness.data import ProceduralShapes, SceneConfig
    from harness.disentanglement.train import train
    from tests.harness.test_disentanglement import TINY, tiny_grid

    ctx = _join(rank, port)
    try:
        source = ProceduralShapes(tiny_grid(), SceneConfig(image_size=16, supersample=1))
        trained = train(
            replace(TINY, steps=2, val_every=2), source, Path(out) / "run", ctx, progress=False
        )
        params = torch.cat([p.detach().flatten() for p in trained.encoder.parameters()])
        torch.save(params, Path(out) / f"train{rank}.pt")
    finally:
        shutdown(ctx)


def test_training_loop_on_two_ranks_matches_one(tmp_path: Path) -> None:
    """Per-task batch norm makes sharding exact: the parameters (not the running statistics,
    which DDP takes from rank 0) equal those of one process on the whole batch. One validation,
    at the last step, so that the kept best state is the last one on both sides (the
    validation loss, computed with the running statistics, may pick another step)."""
    from harness.data import ProceduralShapes, SceneConfig
    from harness.disentanglement.train import train
    from tests.harness.test_disentanglement import TINY, tiny_grid

    mp.spawn(_train_worker, args=(_free_port(), str(tmp_path)), nprocs=2, join=True)
    source = ProceduralShapes(tiny_grid(), SceneConfig(image_size=16, supersample=1))
    trained = train(
        replace(TINY, steps=2, val_every=2), source, tmp_path / "single", progress=False
    )
    reference = torch.cat([p.detach().flatten() for p in trained.encoder.parameters()])
    for rank in range(2):
        gap = (torch.load(tmp_path / f"train{rank}.pt") - reference).abs()
        # Adam moves a parameter by ~lr whatever the size of its gradient, so parameters whose
        # gradient is float noise (e.g. the last bias, which batch norm cancels) may move
        # differently; all others must agree.
        assert gap.max() <= 2 * TINY.lr * 2
        assert (gap <= 1e-5 + 1e-4 * reference.abs()).float().mean() >= 0.99
