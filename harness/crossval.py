"""K-fold cross-validation with the folds and the λ grid batched as tasks of one solver call.

For a batch of regression problems F (..., n, m), y (..., n) and a grid of λ (..., L), one call
of the fitter solves every (fold, λ) problem at once: leading dims (..., K, L) and a per-task λ
tensor. The λ with the lowest validation mean squared error, averaged over the folds (or, with
``rule="one-se"``, the largest λ within one standard error of it), is refit on all n samples in
a second call. Folds are contiguous blocks of ⌊n / K⌋ samples (as scikit-learn's
``KFold`` without shuffling; the samples are i.i.d.); when K does not divide n the remaining
samples are in every training set and never validated on, so all training sets have one size.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch

# fit(F (..., n, m), y (..., n), lam (...)) -> (weights (..., m), converged (...) bool)
Fitter = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]


@dataclass(frozen=True)
class CrossValidated:
    """Outcome of `cross_validate`.

    Attributes:
        weights: (..., m) refit on all samples with the selected λ.
        lam: (...) selected λ.
        lam_index: (...) int64 position of the selected λ in the grid.
        cv_mse: (..., L) validation mean squared error per λ, averaged over folds.
        cv_unconverged: number of (fold, λ) solves that did not reach the solver tolerance.
        refit_unconverged: number of refits that did not reach it.
    """

    weights: torch.Tensor
    lam: torch.Tensor
    lam_index: torch.Tensor
    cv_mse: torch.Tensor
    cv_unconverged: int
    refit_unconverged: int


def kfold_indices(n: int, n_folds: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Train (K, n - ⌊n/K⌋) and validation (K, ⌊n/K⌋) sample indices of K contiguous folds."""
    if n_folds < 2:
        raise ValueError(f"n_folds must be >= 2, got {n_folds}")
    if n < n_folds:
        raise ValueError(f"n_samples ({n}) must be >= n_folds ({n_folds})")
    size = n // n_folds
    samples = torch.arange(n)
    validation = samples[: size * n_folds].reshape(n_folds, size)
    in_fold = torch.zeros(n_folds, n, dtype=torch.bool)
    in_fold.scatter_(1, validation, True)
    train = samples.expand(n_folds, n)[~in_fold].reshape(n_folds, n - size)
    return train, validation


def cross_validate(
    fit: Fitter,
    features: torch.Tensor,
    targets: torch.Tensor,
    grid: torch.Tensor,
    n_folds: int = 5,
    refit: Fitter | None = None,
    rule: str = "min",
) -> CrossValidated:
    """Select λ in ``grid`` by K-fold cross-validation, then refit on all samples.

    Args:
        fit: the batched fitter (a `sparselayers` functional form behind a small adapter).
        features: F (..., n, m).
        targets: y (..., n).
        grid: λ values (..., L), one grid per problem (broadcastable to the leading dims).
        n_folds: K.
        refit: the fitter of the final fit on all samples (default: ``fit``), e.g. the same layer
            with a tighter tolerance.
        rule: ``"min"``: the λ of lowest mean validation error (ties: the earliest in the
            grid); ``"one-se"``: the largest λ whose mean validation error is at most the
            minimum plus the standard error of the folds' errors at the minimum (glmnet's
            ``lambda.1se``; Hastie, Tibshirani & Friedman, *Elements of Statistical Learning*,
            §7.10).

    Returns:
        `CrossValidated`.
    """
    if rule not in ("min", "one-se"):
        raise ValueError(f"rule: expected 'min' or 'one-se', got {rule!r}")
    if features.ndim < 2 or targets.shape != features.shape[:-1]:
        raise ValueError(
            f"targets: expected shape {tuple(features.shape[:-1])} for features of shape "
            f"{tuple(features.shape)}, got {tuple(targets.shape)}"
        )
    batch = features.shape[:-2]
    grid = grid.expand(*batch, grid.shape[-1])
    train, validation = kfold_indices(features.shape[-2], n_folds)
    device = features.device
    train, validation = train.to(device), validation.to(device)

    # (..., K, 1, n_train, m) against a λ grid (..., 1, L): tasks (..., K, L).
    f_train = features[..., train, :].unsqueeze(-3)
    y_train = targets[..., train].unsqueeze(-2)
    w_folds, converged = fit(
        f_train.expand(*f_train.shape[:-4], n_folds, grid.shape[-1], *f_train.shape[-2:]),
        y_train.expand(*y_train.shape[:-3], n_folds, grid.shape[-1], y_train.shape[-1]),
        grid.unsqueeze(-2).expand(*batch, n_folds, grid.shape[-1]),
    )  # (..., K, L, m)
    predictions = features[..., validation, :] @ w_folds.mT  # (..., K, n_val, L)
    errors = (predictions - targets[..., validation].unsqueeze(-1)) ** 2
    fold_mse = errors.mean(-2)  # (..., K, L)
    cv_mse = fold_mse.mean(-2)  # (..., L)
    best = cv_mse.argmin(-1)
    if rule == "one-se":
        spread = fold_mse.std(-2) / n_folds**0.5  # (..., L): s.e. of the mean over folds
        bound = (cv_mse + spread).gather(-1, best.unsqueeze(-1))
        within = cv_mse <= bound
        best = torch.where(within, grid, torch.full_like(grid, -torch.inf)).argmax(-1)
    lam = grid.gather(-1, best.unsqueeze(-1)).squeeze(-1)
    weights, refit_converged = (refit or fit)(features, targets, lam)
    return CrossValidated(
        weights=weights,
        lam=lam,
        lam_index=best,
        cv_mse=cv_mse,
        cv_unconverged=int((~converged).sum()),
        refit_unconverged=int((~refit_converged).sum()),
    )
