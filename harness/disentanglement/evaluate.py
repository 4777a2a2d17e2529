"""Scores of a learned representation on the latent grid (paper Appendix D.2.2, D.2.7).

The encoder, in evaluation mode (running batch-norm statistics), maps the images of the grid
points (all of them, or a seeded subsample) to ẑ; MCC, R and DCI compare ẑ with the
ground-truth latents z of those points. For inner-ridge-ica, ẑ is first unmixed by FastICA fit
on the features of ``ica_samples`` draws from p_{α,ρ}(z).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import FastICA
from torch import nn

from harness.data import ImageSource, LatentDistribution
from harness.disentanglement.config import RunConfig
from harness.disentanglement.methods import TaskRegression
from harness.disentanglement.train import Trained, samplers
from harness.metrics import dci, matched_correlations, multiple_correlation

EVAL_SEED = 12345  # the subsample is the same for every run, method and seed


@torch.no_grad()
def encode(encoder: nn.Module, source: ImageSource, index: torch.Tensor, chunk: int = 1024):
    """Features ẑ (N, m) as float64 numpy of the grid points ``index`` (N,)."""
    encoder.eval()
    device = next(encoder.parameters()).device
    parts = [encoder(source.images(part).to(device)).double().cpu() for part in index.split(chunk)]
    return torch.cat(parts).numpy()


def grid_points(num_points: int, eval_points: int | None) -> torch.Tensor:
    """All grid indices, or a sorted subsample of ``eval_points`` drawn with `EVAL_SEED`."""
    if eval_points is None or eval_points >= num_points:
        return torch.arange(num_points)
    generator = torch.Generator().manual_seed(EVAL_SEED)
    return torch.randperm(num_points, generator=generator)[:eval_points].sort().values


def fit_ica(features: np.ndarray, seed: int) -> FastICA:
    """FastICA (unit-variance whitening) fit on ``features`` (N, m)."""
    ica = FastICA(features.shape[1], whiten="unit-variance", random_state=seed, max_iter=1000)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence warnings on nearly Gaussian features
        ica.fit(features)
    return ica


def scores(z: np.ndarray, z_hat: np.ndarray) -> dict[str, Any]:
    """MCC, R, DCI disentanglement and completeness of ẑ (N, m) against z (N, d), and the
    |correlation| matrix (d, m) with the features in the order of the optimal assignment."""
    d = dci(z, z_hat)
    corr, order = matched_correlations(z, z_hat)
    k = min(corr.shape)
    return {
        "mcc": float(np.diagonal(corr[:k, :k]).mean()),
        "r": multiple_correlation(z, z_hat),
        "dci_d": d.disentanglement,
        "dci_c": d.completeness,
        "abs_corr": np.round(corr, 4).tolist(),
        "feature_order": order.tolist(),
    }


def evaluate(
    encoder: nn.Module,
    source: ImageSource,
    latents: LatentDistribution,
    eval_points: int | None,
    ica_samples: int | None,
    seed: int,
) -> tuple[dict[str, Any], Callable[[np.ndarray], np.ndarray] | None]:
    """(scores of the encoder on the grid, the FastICA unmixing applied or None): with
    ``ica_samples``, FastICA is fit on the features of that many draws of p(z) and the scores
    are those of the unmixed features."""
    index = grid_points(source.grid.num_points, eval_points)
    z_hat = encode(encoder, source, index)
    z = latents.latents[index].numpy()
    unmix = None
    if ica_samples is not None:
        generator = torch.Generator().manual_seed(seed)
        fit_index = latents.sample((ica_samples,), generator)
        unmix = fit_ica(encode(encoder, source, fit_index), seed).transform
        z_hat = unmix(z_hat)
    return {**scores(z, z_hat), "eval_points": int(index.numel())}, unmix


@torch.no_grad()
def heldout_mse(config: RunConfig, encoder: nn.Module, source: ImageSource) -> float:
    """The validation criterion of λ: the inner layer of ``config`` fit on the first half of
    each validation task's samples, its mean squared error on the other half.

    Unlike the training loss (the inner fit on all of a task's samples, which the least
    shrinkage always wins), this is a generalization error, and it uses no ground-truth
    latent. The tasks are the run's validation batches; features in evaluation mode.
    """
    _, _, val = samplers(config, source, torch.device("cpu"))
    inner = TaskRegression(config.method_config()).inner
    errors = []
    encoder.eval()
    for k in range(config.val_batches):
        batch = val.sample(k)
        features = encoder(batch.images.to(next(encoder.parameters()).device)).cpu()
        half = features.shape[-2] // 2
        weights = inner(features[..., :half, :], batch.targets[..., :half])
        prediction = (features[..., half:, :] @ weights.unsqueeze(-1)).squeeze(-1)
        errors.append(float((prediction - batch.targets[..., half:]).pow(2).mean()))
    return float(np.mean(errors))


def evaluate_row(config: RunConfig, trained: Trained, source: ImageSource) -> dict[str, Any]:
    """The results row of ``config`` scored on ``trained`` (a `Trained` encoder of the unit
    ``config.trained_as()``): settings, scores, validation criterion, training summary,
    history and traversals (of the unmixed features for the ICA methods)."""
    ica = config.ica_samples if config.method_config().uses_ica else None
    metrics, unmix = evaluate(
        trained.encoder, source, trained.latents, config.eval_points, ica, config.seed
    )
    state = trained.state
    return {
        "run_id": config.run_id,
        "trained_as": config.trained_as().run_id,
        **{k: getattr(config, k) for k in ("method", "lam", "rho", "alpha", "weights", "seed")},
        **metrics,
        "val_heldout_mse": heldout_mse(config, trained.encoder, source),
        "best_step": state.best_step,
        "steps_done": state.step,
        "stopped_early": state.stopped_early,
        "best_val": state.best_val,
        "train_seconds": state.seconds,
        "history": state.history,
        "traversals": traversals(trained.encoder, source, trained.latents, unmix=unmix),
        "config": config.to_dict(),
    }


@torch.no_grad()
def traversals(
    encoder: nn.Module,
    source: ImageSource,
    latents: LatentDistribution,
    base: int = 0,
    unmix: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, Any]:
    """Learned features along each factor from a base grid point (Fig. 11–14 data).

    Returns ``{"values": [[z_i along factor i]], "features": [[ẑ (len_i, m)]]}`` where the
    other factors are held at those of the flat grid index ``base``; ``unmix`` (FastICA's
    transform) is applied to the features when given.
    """
    grid = source.grid
    base_index = grid.unravel(torch.tensor([base]))[0]
    values, features = [], []
    for i, size in enumerate(grid.sizes):
        index = base_index.repeat(size, 1)
        index[:, i] = torch.arange(size)
        flat = grid.ravel(index)
        values.append(latents.latents[flat, i].tolist())
        z_hat = encode(encoder, source, flat)
        features.append((z_hat if unmix is None else unmix(z_hat)).tolist())
    return {"values": values, "features": features}
