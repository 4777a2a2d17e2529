"""Scores of a learned representation on the latent grid (paper Appendix D.2.2, D.2.7).

The encoder, in evaluation mode (running batch-norm statistics), maps the images of the grid
points (all of them, or a seeded subsample) to ẑ; MCC, R and DCI compare ẑ with the
ground-truth latents z of those points. For inner-ridge-ica, ẑ is first unmixed by FastICA fit
on the features of ``ica_samples`` draws from p_{α,ρ}(z).
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
import torch
from sklearn.decomposition import FastICA
from torch import nn

from harness.data import ImageSource, LatentDistribution
from harness.metrics import dci, mcc, multiple_correlation

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


def scores(z: np.ndarray, z_hat: np.ndarray) -> dict[str, float]:
    """MCC, R, DCI disentanglement and completeness of ẑ (N, m) against z (N, d)."""
    d = dci(z, z_hat)
    return {
        "mcc": mcc(z, z_hat),
        "r": multiple_correlation(z, z_hat),
        "dci_d": d.disentanglement,
        "dci_c": d.completeness,
    }


def evaluate(
    encoder: nn.Module,
    source: ImageSource,
    latents: LatentDistribution,
    eval_points: int | None,
    ica_samples: int | None,
    seed: int,
) -> dict[str, Any]:
    """Scores of the encoder on the grid; with ``ica_samples``, of its FastICA unmixing."""
    index = grid_points(source.grid.num_points, eval_points)
    z_hat = encode(encoder, source, index)
    z = latents.latents[index].numpy()
    if ica_samples is not None:
        generator = torch.Generator().manual_seed(seed)
        fit_index = latents.sample((ica_samples,), generator)
        ica = fit_ica(encode(encoder, source, fit_index), seed)
        z_hat = ica.transform(z_hat)
    return {**scores(z, z_hat), "eval_points": int(index.numel())}


@torch.no_grad()
def traversals(
    encoder: nn.Module, source: ImageSource, latents: LatentDistribution, base: int = 0
) -> dict[str, Any]:
    """Learned features along each factor from a base grid point (Fig. 11–14 data).

    Returns ``{"values": [[z_i along factor i]], "features": [[ẑ (len_i, m)]]}`` where the
    other factors are held at those of the flat grid index ``base``.
    """
    grid = source.grid
    base_index = grid.unravel(torch.tensor([base]))[0]
    values, features = [], []
    for i, size in enumerate(grid.sizes):
        index = base_index.repeat(size, 1)
        index[:, i] = torch.arange(size)
        flat = grid.ravel(index)
        values.append(latents.latents[flat, i].tolist())
        features.append(encode(encoder, source, flat).tolist())
    return {"values": values, "features": features}
