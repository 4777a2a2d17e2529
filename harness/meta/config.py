"""Settings of the meta-SVM experiment (paper Section 5.2, Appendix D.3) and its presets.

One frozen dataclass, `MetaConfig`, whose defaults are the paper's: MetaOptNet's miniImageNet
recipe (Lee et al. 2019) — ResNet-12, 5-way, 15 train shots (test shots 5: "train shots > test
shots"), 6 queries per class, 8 episodes per batch, SGD with Nesterov momentum 0.9, lr 0.1,
weight decay 5e-4, step schedule (x0.06, x0.012, x0.0024 after epochs 20, 40, 50 of 1,000
batches; 60 epochs), label smoothing 0.1, 1,000 test episodes of 15 queries. A preset is a dict
of field values over those defaults:

``paper``: the defaults.
``quick``: a Conv4 on 32x32 procedural images, 5 train shots, 4 episodes per batch, 150 steps:
about 95 s per head on one core, 15 minutes for the sweep of 16 heads on two cores.

Both sweep the paper's grid of ``λ1 / λ1_max`` (Fig. 5: 0, 0.05, ..., 5) and train the ridge
head beside it, so that the two panels of Fig. 5 are drawn with the dense SVM (``λ1 = 0``) and
the ridge head as references.

The command line maps one ``--field-name`` flag onto each field (`harness.config`), over the
preset chosen by ``--preset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from harness.config import from_preset
from harness.meta.heads import HeadConfig

DATASETS = ("procedural", "miniimagenet", "cifar-fs")
# The λ1 / λ1_max values of the paper's Fig. 5 (its legend).
PAPER_LAM1 = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.35, 0.4, 0.5, 0.6, 0.7, 0.9, 1.0, 2.0, 5.0)
BACKBONES = ("resnet12", "conv4")


@dataclass(frozen=True)
class MetaConfig:
    """Everything that defines a sweep of meta-learners, one per value of ``lam1``.

    Attributes:
        dataset: ``"procedural"`` (rendered, `harness.data.fewshot_procedural`),
            ``"miniimagenet"`` or ``"cifar-fs"`` (the pickles).
        lam1: the SVM heads swept, one training run each: ``λ1 / λ1_max`` per task
            (`harness.meta.heads`; 0 = the dense Crammer–Singer SVM, ``> 1`` the all-zero head).
        ridge_reference: also train the ridge head (MetaOptNet's R2-D2-style baseline).
        lam2, tol, max_iter: the head's ridge weight, inner duality-gap tolerance and inner
            iteration budget (`HeadConfig`).
        seed: seed of the initialization; the train, validation and test episodes use
            ``seed``, ``seed + 1`` and ``seed + 2``.
        backbone: ``"resnet12"`` or ``"conv4"``.
        image_size: side of the procedural images (the pickles keep their own size).
        way, train_shot, test_shot, query: episode shape (N, K at train / at test, Q).
        episodes_per_batch: episodes per optimizer step (the global batch under DDP).
        steps: optimizer steps.
        lr, momentum, weight_decay: SGD (Nesterov) hyper-parameters.
        lr_drops: ``(fraction of steps, lr factor)`` pairs of the step schedule, increasing
            (no command-line flag: set by the preset).
        label_smoothing: of the outer cross-entropy on the queries.
        eval_episodes: fixed test episodes; ``eval_query`` queries per class in them.
        val_episodes: validation episodes evaluated every ``val_every`` steps.
        checkpoint_every: steps between checkpoints.
    """

    dataset: str = "procedural"
    lam1: tuple[float, ...] = PAPER_LAM1
    ridge_reference: bool = True
    lam2: float = 1.0
    tol: float = 1e-4
    max_iter: int = 300
    seed: int = 0
    backbone: str = "resnet12"
    image_size: int = 84
    way: int = 5
    train_shot: int = 15
    test_shot: int = 5
    query: int = 6
    episodes_per_batch: int = 8
    steps: int = 60_000
    lr: float = 0.1
    momentum: float = 0.9
    weight_decay: float = 5e-4
    lr_drops: tuple[tuple[float, float], ...] = (
        (20 / 60, 0.06),
        (40 / 60, 0.012),
        (50 / 60, 0.0024),
    )
    label_smoothing: float = 0.1
    eval_episodes: int = 1000
    eval_query: int = 15
    val_episodes: int = 200
    val_every: int = 1000
    checkpoint_every: int = 1000

    def __post_init__(self) -> None:
        if self.dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {list(DATASETS)}, got {self.dataset!r}")
        if self.backbone not in BACKBONES:
            raise ValueError(f"backbone: expected one of {list(BACKBONES)}, got {self.backbone!r}")
        if not self.lam1 and not self.ridge_reference:
            raise ValueError("lam1: expected at least one value (or the ridge reference)")
        if len(set(self.lam1)) != len(self.lam1):
            raise ValueError(f"lam1: expected distinct values, got {list(self.lam1)}")
        for lam1 in self.lam1:
            self.head_config("svm", lam1)  # validates lam1 >= 0 and lam2 > 0
        if min(self.way, self.train_shot, self.test_shot, self.query, self.steps) < 1:
            raise ValueError("way, shots, query and steps must be >= 1")
        if self.episodes_per_batch < 1 or self.eval_episodes < 1:
            raise ValueError("episodes_per_batch and eval_episodes must be >= 1")
        for name in ("image_size", "eval_query", "val_episodes", "val_every", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def head_config(self, kind: str, lam1: float = 0.0) -> HeadConfig:
        """The head ``kind`` (``"svm"`` or ``"ridge"``) with relative weight ``lam1``."""
        return HeadConfig(kind, lam1, self.lam2, self.tol, self.max_iter)

    def heads(self) -> list[tuple[str, float]]:
        """The ``(kind, lam1)`` of every training run of the sweep, in order."""
        return [("svm", lam1) for lam1 in self.lam1] + (
            [("ridge", 0.0)] if self.ridge_reference else []
        )

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at optimizer step ``step`` (0-based)."""
        factor = 1.0
        for fraction, value in self.lr_drops:
            if step >= fraction * self.steps:
                factor = value
        return factor


PRESETS: dict[str, dict[str, Any]] = {
    "paper": {},
    "quick": {
        "backbone": "conv4",
        "image_size": 32,
        "train_shot": 5,
        "episodes_per_batch": 4,
        "steps": 150,
        "lr_drops": ((0.6, 0.1), (0.85, 0.01)),
        "eval_episodes": 200,
        "val_episodes": 40,
        "val_every": 50,
        "checkpoint_every": 50,
    },
}


def preset(name: str, **overrides: Any) -> MetaConfig:
    """The `MetaConfig` of preset ``name`` with fields replaced by ``overrides``."""
    return from_preset(MetaConfig, PRESETS, name, **overrides)


__all__ = ["BACKBONES", "DATASETS", "PAPER_LAM1", "PRESETS", "MetaConfig", "preset"]
