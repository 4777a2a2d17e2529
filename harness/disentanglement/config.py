"""Configuration of one disentanglement run (paper Section 5.1, Appendix D.2) and its presets.

- ``paper``: 64×64 images, 8 tasks of n = 50 per step, 20,000 Adam steps (lr 1e-3), validation
  every 500 steps, metrics on the full 480,000-point grid.
- ``quick`` (a 2-core CPU, about a minute a run on one core): 16×16 images (the procedural
  renderer draws them natively), 3,000 Adam steps at lr 3e-3, validation every 250 steps on 4
  batches, FastICA fit on 2,000 samples, metrics on a seeded 5,000-point subsample of the grid;
  everything else (8 tasks of n = 50, the encoder, the task distribution) as in the paper.
  Measured on this project's 2-core machine (inner-Lasso, λ = 0.1 λ_max, ρ = 0): the grid MCC
  is 0.96 after 1,500 steps and 0.98 from 3,000 on, at 16×16 as at 32×32, while a step at 16×16
  costs a third of one at 32×32 (22 against 57 ms on one thread).
- ``smoke``: a few steps on 16×16 images, to check the pipeline (CI), not the science.

A row of a sweep is a `RunConfig`; what is *trained* for it is `RunConfig.trained_as`, so that
rows that are the same training problem share one run (`harness.disentanglement.sweep`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any

from harness.config import from_preset
from harness.data.tasks import WEIGHT_DISTRIBUTIONS
from harness.disentanglement.methods import METHODS, MethodConfig


@dataclass(frozen=True)
class RunConfig:
    """Everything that determines one training run; ``run_id`` names its directory.

    Attributes:
        method, lam: see `MethodConfig` (lam = λ/λ_max, or the outer λ for outer-lasso).
        rho, alpha: correlation ρ and noise level α of p_{α,ρ}(z).
        weights: task weight distribution (a key of `WEIGHT_DISTRIBUTIONS`).
        seed: seed of the initialization and of the task stream.
        steps: maximal number of Adam steps.
        num_tasks, n_samples: T tasks of n samples per step.
        lr: Adam learning rate.
        lr_schedule: "constant" (the paper's), or "cosine": lr · (1 + cos(π t / steps)) / 2
            at step t, which settles the features by the last step (the demo's choice).
        image_size: H = W of the encoder's input (images are rendered, or average-pooled from
            the 64×64 file, at this size).
        val_every, val_batches, patience: validation every ``val_every`` steps on
            ``val_batches`` fixed batches; early stopping after ``patience`` validations without
            improvement; the best validation state is the final model.
        checkpoint_every: steps between checkpoints.
        eval_points: grid points scored (a seeded subsample), or None for the full grid.
        ica_samples: samples of p(z) FastICA is fit on (inner-ridge-ica).
        backward, tol: differentiation and stopping tolerance of the inner layer.
        noise_ratio: noise-to-signal norm ratio of the targets.
    """

    method: str = "inner-lasso"
    lam: float = 0.1
    rho: float = 0.0
    alpha: float = 1.0
    weights: str = "bernoulli"
    seed: int = 0
    steps: int = 20_000
    num_tasks: int = 8
    n_samples: int = 50
    lr: float = 1e-3
    lr_schedule: str = "constant"
    image_size: int = 64
    val_every: int = 500
    val_batches: int = 4
    patience: int = 10
    checkpoint_every: int = 500
    eval_points: int | None = None
    ica_samples: int = 5000
    backward: str = "implicit"
    tol: float = 1e-5
    noise_ratio: float = 0.1

    def __post_init__(self) -> None:
        self.method_config()  # validates method, lam, backward
        if self.weights not in WEIGHT_DISTRIBUTIONS:
            raise ValueError(
                f"weights: unknown {self.weights!r}; choose from {list(WEIGHT_DISTRIBUTIONS)}"
            )
        positive = ("steps", "num_tasks", "val_every", "val_batches", "patience")
        for name in (*positive, "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ValueError(
                f"lr_schedule: unknown {self.lr_schedule!r}; choose 'constant' or 'cosine'"
            )
        if self.n_samples < 2:
            raise ValueError(f"n_samples must be >= 2 (per-task batch norm), got {self.n_samples}")
        if self.val_every > self.steps:
            raise ValueError(
                f"val_every ({self.val_every}) exceeds steps ({self.steps}): lower --val-every "
                "or raise --steps"
            )
        if self.eval_points is not None and self.eval_points < 10:
            raise ValueError(f"eval_points must be >= 10 or None, got {self.eval_points}")

    def method_config(self) -> MethodConfig:
        """The `MethodConfig` of this run."""
        return MethodConfig(self.method, self.lam, backward=self.backward, tol=self.tol)

    def trained_as(self) -> RunConfig:
        """The run whose trained encoder this row is evaluated on.

        inner-ridge-ica is inner-ridge at training (FastICA only enters the evaluation), and
        outer-ridge-ica is outer-ridge; at λ = 0 inner-lasso and the outer methods are least
        squares inside with no penalty, i.e. the unregularized inner-ridge run.
        """
        method = self.method_config().trained_method
        if self.lam == 0:
            method = "inner-ridge"
        return self if method == self.method else replace(self, method=method)

    def learning_rate(self, step: int) -> float:
        """The learning rate of the update after ``step`` updates."""
        if self.lr_schedule == "constant":
            return self.lr
        return self.lr * 0.5 * (1.0 + math.cos(math.pi * step / self.steps))

    @property
    def run_id(self) -> str:
        """A directory name unique to the settings that vary across a sweep."""
        return (
            f"{self.method}_lam{self.lam:g}_rho{self.rho:g}_alpha{self.alpha:g}_"
            f"{self.weights}_seed{self.seed}"
        )

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict of every field."""
        return asdict(self)


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {
        "image_size": 16,
        "steps": 3000,
        "lr": 3e-3,
        "val_every": 250,
        "checkpoint_every": 250,
        "val_batches": 4,
        "patience": 12,
        "eval_points": 5000,
        "ica_samples": 2000,
    },
    "smoke": {
        "image_size": 16,
        "steps": 4,
        "num_tasks": 2,
        "n_samples": 12,
        "lr": 3e-3,
        "val_every": 2,
        "checkpoint_every": 2,
        "val_batches": 1,
        "patience": 5,
        "eval_points": 300,
        "ica_samples": 200,
    },
}


def preset(name: str, **overrides: Any) -> RunConfig:
    """The `RunConfig` of preset ``name`` with ``overrides`` applied."""
    return from_preset(RunConfig, PRESETS, name, **overrides)


__all__ = ["METHODS", "PRESETS", "RunConfig", "preset"]
