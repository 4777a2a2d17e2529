"""Episodic training of a meta-learner (paper Section 5.2, Problem 7; MetaOptNet's recipe).

Outer loss per step: cross-entropy (with label smoothing) of the head's query logits, averaged
over the step's episodes. Under DDP each rank takes a contiguous shard of the step's episodes
(`EpisodeBatch.shard`) and DDP averages gradients, which equals the one-process gradient of the
same global batch. Episodes are indexed by ``step * episodes_per_batch + i``, so a resumed run
sees exactly the episodes it would have seen; the checkpoint also holds the RNG state (DropBlock).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as nnf
from tqdm import tqdm

from harness.checkpoint import load_checkpoint, save_checkpoint
from harness.data.fewshot import EpisodeSampler
from harness.distributed import DistContext, all_reduce_mean, unwrap, wrap_ddp
from harness.eta import CALIBRATION_STEPS, seconds_per_step
from harness.meta.config import MetaConfig
from harness.meta.evaluate import evaluate
from harness.meta.heads import HeadConfig, MetaHead
from harness.meta.model import MetaLearner
from harness.models.backbones import backbone


@dataclass
class History:
    """Per-step training loss (mean over the global batch), query accuracy, head sparsity, steps
    whose inner solver hit its budget, and validation points ``(step, accuracy, sparsity)``."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    sparsity: list[float] = field(default_factory=list)
    not_converged: list[int] = field(default_factory=list)
    val: list[tuple[int, float, float]] = field(default_factory=list)
    seconds: float = 0.0


def build_model(config: MetaConfig, head: HeadConfig, seed: int) -> MetaLearner:
    """A freshly initialised meta-learner (seeded: identical on every rank)."""
    torch.manual_seed(seed)
    return MetaLearner(backbone(config.backbone), MetaHead(head, config.way))


def sgd(model: MetaLearner, config: MetaConfig) -> torch.optim.SGD:
    """The recipe's optimizer: SGD with Nesterov momentum and weight decay."""
    return torch.optim.SGD(
        model.parameters(),
        lr=config.lr,
        momentum=config.momentum,
        nesterov=True,
        weight_decay=config.weight_decay,
    )


def query_loss(logits: torch.Tensor, labels: torch.Tensor, config: MetaConfig) -> torch.Tensor:
    """The training loss: label-smoothed cross-entropy of the query logits
    ``(episodes, queries, way)`` against their labels ``(episodes, queries)``."""
    return nnf.cross_entropy(
        logits.flatten(0, 1), labels.flatten(), label_smoothing=config.label_smoothing
    )


def train(
    model: MetaLearner,
    config: MetaConfig,
    train_sampler: EpisodeSampler,
    val_sampler: EpisodeSampler | None,
    checkpoint: Path,
    ctx: DistContext,
    progress: bool = True,
    stop_after: int | None = None,
    log: Callable[[str], None] = print,
) -> History:
    """Train ``model`` for ``config.steps`` steps, resuming from ``checkpoint`` if it exists.

    Args:
        model: the (unwrapped) meta-learner, modified in place.
        config: the recipe (its training fields; the head is ``model``'s).
        train_sampler, val_sampler: episode samplers (validation optional).
        checkpoint: file written every ``config.checkpoint_every`` steps and at the end (rank 0).
        ctx: the distributed context (`harness.distributed.init_distributed`).
        progress: show a progress bar on rank 0.
        stop_after: stop (after checkpointing) once this many steps are done — for tests of
            resumption; None runs to the end.
        log: where rank 0 prints validation lines.

    Returns:
        The history of the whole run (restored from the checkpoint when resuming).
    """
    model.to(ctx.device)
    optimizer = sgd(model, config)
    history, step = History(), 0
    state = load_checkpoint(checkpoint)
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        history = History(**state["history"])
        history.val = [tuple(v) for v in history.val]
        torch.set_rng_state(state["rng"])
        step = int(state["step"])
    ddp = wrap_ddp(model, ctx)
    end = config.steps if stop_after is None else min(config.steps, stop_after)
    bar = tqdm(
        total=config.steps, initial=step, disable=not (progress and ctx.is_main), desc="train"
    )
    model.train()
    start_time = time.perf_counter() - history.seconds
    while step < end:
        for group in optimizer.param_groups:
            group["lr"] = config.lr * config.lr_factor(step)
        unwrap(ddp).backbone.set_progress(step / config.steps)
        b = config.episodes_per_batch
        batch = train_sampler.episodes(step * b, b).shard(ctx.rank, ctx.world_size)
        out = ddp(batch)
        loss = query_loss(out.logits, batch.query_labels.to(ctx.device), config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        step += 1
        acc = (out.logits.argmax(-1) == batch.query_labels).float().mean()
        history.loss.append(all_reduce_mean(loss.detach(), ctx))
        history.accuracy.append(all_reduce_mean(acc, ctx))
        history.sparsity.append(all_reduce_mean(out.sparsity.mean(), ctx))
        history.not_converged.append(
            round(all_reduce_mean(float(out.not_converged), ctx) * ctx.world_size)
        )
        bar.update(1)
        bar.set_postfix(loss=f"{history.loss[-1]:.3f}", sparsity=f"{history.sparsity[-1]:.2f}")
        if val_sampler is not None and ctx.is_main and step % config.val_every == 0:
            res = evaluate(model, val_sampler, config.val_episodes, config.episodes_per_batch)
            history.val.append((step, res.accuracy, res.sparsity))
            log(f"step {step}: val accuracy {res.accuracy:.4f}, sparsity {res.sparsity:.3f}")
        history.seconds = time.perf_counter() - start_time
        if ctx.is_main and (step % config.checkpoint_every == 0 or step == end):
            save_checkpoint(
                checkpoint,
                {
                    "model": model.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "history": history.__dict__,
                    "rng": torch.get_rng_state(),
                    "step": step,
                },
            )
    bar.close()
    return history


def calibrate(
    model: MetaLearner,
    config: MetaConfig,
    train_sampler: EpisodeSampler,
    ctx: DistContext,
    steps: int = CALIBRATION_STEPS,
    threads: int | None = None,
) -> float:
    """Wall seconds of one training step of ``model`` on ``threads`` torch threads
    (`harness.eta.seconds_per_step`): the first episodes of
    ``train_sampler`` (this rank's shard), the loss and SGD update of `train`, on a model that
    is thrown away afterwards; no validation, checkpoint or gradient exchange. The inner
    solver's cost changes as the features train, so this is the pace of the first steps."""
    model.to(ctx.device).train()
    optimizer = sgd(model, config)
    b = config.episodes_per_batch
    count = iter(range(steps + 1))

    def step() -> None:
        batch = train_sampler.episodes(next(count) * b, b).shard(ctx.rank, ctx.world_size)
        out = model(batch)
        loss = query_loss(out.logits, batch.query_labels.to(ctx.device), config)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return seconds_per_step(step, ctx.device, steps, threads)
