"""Training of the encoder through an inner layer (paper Section 5.1, Problem 6 / 62).

Per step: a batch of T tasks (sharded across ranks), images → f_θ → features (T, n, m) with
per-task batch norm, inner solution Ŵ per task, outer loss = mean over tasks of the MSE of Ŵ on
the task's samples (+ outer penalty), one Adam step. Every ``val_every`` steps the outer loss on
fixed validation batches (running batch-norm statistics) drives early stopping; the best state
is the final model. A checkpoint every ``checkpoint_every`` steps makes the run resumable; a
non-finite loss stops it (`NonFiniteLoss`) without overwriting the last good checkpoint.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from harness.checkpoint import CHECKPOINT_FILENAME, load_checkpoint, save_checkpoint
from harness.data import ImageSource, LatentDistribution, TaskSampler, weight_distribution
from harness.disentanglement.config import RunConfig
from harness.disentanglement.methods import TaskRegression
from harness.distributed import (
    DistContext,
    all_reduce_mean,
    broadcast_flag,
    shard,
    unwrap,
    wrap_ddp,
)
from harness.eta import CALIBRATION_STEPS, seconds_per_step
from harness.metrics import mcc
from harness.models import ConvEncoder

VALIDATION_SEED_OFFSET = 1_000_003  # validation batches never coincide with training batches


class NonFiniteLoss(ValueError):
    """The outer loss became NaN or infinite; the last good checkpoint is kept."""


@dataclass
class TrainState:
    """What a checkpoint holds besides the module states."""

    step: int = 0
    best_val: float = float("inf")
    best_step: int = 0
    bad_evals: int = 0
    stopped_early: bool = False
    seconds: float = 0.0
    history: list[dict[str, float]] = field(default_factory=list)


@dataclass
class Trained:
    """A trained encoder (best validation state), its latent distribution and its history."""

    encoder: ConvEncoder
    latents: LatentDistribution
    state: TrainState
    seconds: float


def samplers(config: RunConfig, source: ImageSource, device: torch.device):
    """(latents, training sampler, validation sampler) of a run; the latent noise is drawn with
    a fixed seed so that every run sees the same support Z_α."""
    latents = LatentDistribution(source.grid, alpha=config.alpha, rho=config.rho, noise_seed=0)
    common = {
        "source": source,
        "latents": latents,
        "weights": weight_distribution(config.weights),
        "num_tasks": config.num_tasks,
        "n_samples": config.n_samples,
        "noise_ratio": config.noise_ratio,
        "device": device,
    }
    train = TaskSampler(**common, seed=config.seed)
    val = TaskSampler(**common, seed=config.seed + VALIDATION_SEED_OFFSET)
    return latents, train, val


@torch.no_grad()
def validate(
    model: torch.nn.Module,
    head: TaskRegression,
    sampler: TaskSampler,
    config: RunConfig,
    task_ids: list[int],
    ctx: DistContext,
) -> tuple[float, float]:
    """(outer MSE, MCC of the features against z) on the fixed validation batches, averaged
    over ranks; evaluation mode (running batch-norm statistics).

    This MCC (shown in the progress bar) is on samples of p_{α,ρ}(z): with correlated latents
    (ρ > 0) an entangled representation scores higher there than on the grid, whose factors
    are independent; the reported MCC is the grid's (`harness.disentanglement.evaluate`).
    """
    model.eval()
    losses, z, z_hat = [], [], []
    for k in range(config.val_batches):
        batch = sampler.sample(k, task_ids)
        features = unwrap(model)(batch.images)
        losses.append(float(head.mse(features, batch.targets)))
        z.append(batch.latents.reshape(-1, batch.latents.shape[-1]).cpu())
        z_hat.append(features.reshape(-1, features.shape[-1]).cpu())
    model.train()
    try:
        score = mcc(torch.cat(z), torch.cat(z_hat))
    except ValueError:  # constant or non-finite features: no meaningful MCC yet
        score = float("nan")
    return all_reduce_mean(float(np.mean(losses)), ctx), all_reduce_mean(score, ctx)


def same_config(saved: dict[str, Any], config: RunConfig) -> bool:
    """Whether a checkpoint's config is ``config``; a field added to `RunConfig` after the
    checkpoint was written counts as its default value."""
    defaults = RunConfig().to_dict()
    return all(saved.get(k, defaults[k]) == v for k, v in config.to_dict().items())


def train(
    config: RunConfig,
    source: ImageSource,
    out_dir: Path,
    ctx: DistContext | None = None,
    progress: bool = True,
) -> Trained:
    """Train (or resume) the run ``config`` in ``out_dir``; returns the best-validation encoder.

    Raises:
        NonFiniteLoss: the loss became non-finite (the message names the step).
    """
    ctx = ctx or DistContext()
    latents, sampler, val_sampler, encoder, head, optimizer = _fresh_run(config, source, ctx)
    path = Path(out_dir) / CHECKPOINT_FILENAME
    saved = load_checkpoint(path, map_location=ctx.device)
    state = TrainState()
    best_encoder = copy.deepcopy(encoder.state_dict())
    if saved is not None:
        if not same_config(saved["config"], config):
            raise ValueError(f"checkpoint: {str(path)!r} was written by another configuration")
        encoder.load_state_dict(saved["encoder"])
        optimizer.load_state_dict(saved["optimizer"])
        best_encoder = saved["best_encoder"]
        state = TrainState(**saved["state"])
    model = wrap_ddp(encoder, ctx)
    task_ids = shard(range(config.num_tasks), ctx)
    start = time.perf_counter()
    bar = tqdm(
        total=config.steps,
        initial=state.step,
        desc=config.run_id,
        disable=not (progress and ctx.is_main),
        dynamic_ncols=True,
    )
    running = None
    done = state.stopped_early
    clock = time.perf_counter()
    while state.step < config.steps and not done:
        model.train()
        batch = sampler.sample(state.step, task_ids)
        loss, _ = head(model(batch.images), batch.targets)
        if broadcast_flag(not bool(torch.isfinite(loss)), ctx):
            bar.close()
            raise NonFiniteLoss(
                f"loss: non-finite outer loss at step {state.step} of {config.run_id}; the run "
                f"stopped, its last good checkpoint ({str(path)!r}) is kept"
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        for group in optimizer.param_groups:
            group["lr"] = config.learning_rate(state.step)
        optimizer.step()
        state.step += 1
        value = all_reduce_mean(loss.detach(), ctx)
        running = value if running is None else 0.95 * running + 0.05 * value
        bar.update(1)
        if state.step % config.val_every == 0 or state.step == config.steps:
            val_loss, val_mcc = validate(model, head, val_sampler, config, task_ids, ctx)
            state.history.append(
                {"step": state.step, "train": running, "val": val_loss, "val_mcc": val_mcc}
            )
            if val_loss < state.best_val:
                state.best_val, state.best_step, state.bad_evals = val_loss, state.step, 0
                best_encoder = copy.deepcopy(encoder.state_dict())
            else:
                state.bad_evals += 1
                state.stopped_early = done = state.bad_evals >= config.patience
            # The bar's MCC is the validation one, on samples of p(z); the final table's is on
            # the latent grid (see `validate`), so the two differ when the latents correlate.
            bar.set_postfix_str(
                f"loss={running:.4f} val={val_loss:.4f} val-MCC(p(z))={val_mcc:.3f}"
            )
        last = done or state.step == config.steps
        now = time.perf_counter()
        state.seconds, clock = state.seconds + now - clock, now
        if ctx.is_main and (state.step % config.checkpoint_every == 0 or last):
            save_checkpoint(
                path,
                {
                    "config": config.to_dict(),
                    "encoder": encoder.state_dict(),
                    "optimizer": optimizer.state_dict(),
                    "best_encoder": best_encoder,
                    "state": vars(state),
                    "step": state.step,
                },
            )
    bar.close()
    encoder.load_state_dict(best_encoder)
    return Trained(encoder, latents, state, time.perf_counter() - start)


def _fresh_run(config: RunConfig, source: ImageSource, ctx: DistContext):
    """What a run starts from, seeded by ``config.seed``: ``(latents, train sampler, validation
    sampler, encoder, inner layer, Adam)``, shared by `train` and `calibrate`."""
    torch.manual_seed(config.seed)
    latents, sampler, val_sampler = samplers(config, source, ctx.device)
    encoder = ConvEncoder(config.image_size, latents.dim).to(ctx.device)
    head = TaskRegression(config.method_config())
    optimizer = torch.optim.Adam(encoder.parameters(), lr=config.lr)
    return latents, sampler, val_sampler, encoder, head, optimizer


def calibrate(
    config: RunConfig,
    source: ImageSource,
    ctx: DistContext | None = None,
    steps: int = CALIBRATION_STEPS,
    threads: int | None = None,
) -> float:
    """Wall seconds of one training step of ``config`` on this rank's tasks, on ``threads``
    torch threads (`harness.eta.seconds_per_step`): the same sampler, encoder, inner layer and
    Adam update as `train`, on a throw-away model, without validation, checkpoints or gradient
    exchange."""
    ctx = ctx or DistContext()
    _, sampler, _, encoder, head, optimizer = _fresh_run(config, source, ctx)
    task_ids = shard(range(config.num_tasks), ctx)
    count = iter(range(steps + 1))

    def step() -> None:
        batch = sampler.sample(next(count), task_ids)
        loss, _ = head(encoder(batch.images), batch.targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    return seconds_per_step(step, ctx.device, steps, threads)
