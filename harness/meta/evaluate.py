"""Evaluation over a fixed set of episodes: accuracy with a 95% confidence interval and the
per-task sparsity of the head (paper Section 5.2, Fig. 5)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from harness.data.fewshot import EpisodeSampler
from harness.meta.model import MetaLearner


@dataclass(frozen=True)
class EvalResult:
    """Attributes:
    accuracy: mean query accuracy over the episodes, in [0, 1].
    ci95: half-width of its 95% confidence interval, ``1.96 * std / sqrt(episodes)``.
    sparsity: mean over episodes of the fraction of zero feature columns of W.
    usage: (m,) fraction of episodes whose W uses each feature (a nonzero column).
    episodes: number of episodes.
    not_converged: episodes whose inner solver hit its iteration budget.
    """

    accuracy: float
    ci95: float
    sparsity: float
    usage: list[float]
    episodes: int
    not_converged: int


@torch.no_grad()
def evaluate(
    model: MetaLearner, sampler: EpisodeSampler, episodes: int, batch_size: int = 8
) -> EvalResult:
    """Evaluate ``model`` (in eval mode) on episodes ``0 .. episodes-1`` of ``sampler``."""
    was_training = model.training
    model.eval()
    accuracies, sparsities, used, not_converged = [], [], [], 0
    for start in range(0, episodes, batch_size):
        batch = sampler.episodes(start, min(batch_size, episodes - start))
        out = model(batch)
        correct = out.logits.argmax(-1) == batch.query_labels
        accuracies.append(correct.float().mean(-1))
        sparsities.append(out.sparsity)
        used.append(out.used)
        not_converged += out.not_converged
    model.train(was_training)
    acc = torch.cat(accuracies).double()
    ci = 1.96 * acc.std().item() / math.sqrt(acc.numel()) if acc.numel() > 1 else float("nan")
    return EvalResult(
        accuracy=acc.mean().item(),
        ci95=ci,
        sparsity=torch.cat(sparsities).double().mean().item(),
        usage=torch.cat(used).double().mean(0).tolist(),
        episodes=int(acc.numel()),
        not_converged=not_converged,
    )
