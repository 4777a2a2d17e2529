"""Training recipes of the meta-SVM experiment (paper Appendix D.3; MetaOptNet, Lee et al. 2019).

``paper``: MetaOptNet's miniImageNet recipe — ResNet-12, 5-way, 15 train shots (test shots 5:
"train shots > test shots"), 6 queries per class, 8 episodes per batch, SGD with Nesterov
momentum 0.9, lr 0.1, weight decay 5e-4, step schedule (x0.06, x0.012, x0.0024 after epochs 20,
40, 50 of 1,000 batches; 60 epochs), label smoothing 0.1, 1,000 test episodes of 15 queries.
``quick``: a Conv4 on 32x32 procedural images, 4 episodes per batch, 150 steps: a few minutes on
two CPU cores.
"""

from __future__ import annotations

from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Preset:
    """Everything that defines a training run except the head and the data.

    Attributes:
        backbone: ``"resnet12"`` or ``"conv4"``.
        image_size: side of the procedural images (the pickles keep their own size).
        way, train_shot, test_shot, query: episode shape (N, K at train / at test, Q).
        episodes_per_batch: episodes per optimizer step (the global batch under DDP).
        steps: optimizer steps.
        lr, momentum, weight_decay: SGD (Nesterov) hyper-parameters.
        lr_drops: ``(fraction of steps, lr factor)`` pairs of the step schedule, increasing.
        label_smoothing: of the outer cross-entropy on the queries.
        eval_episodes: fixed test episodes; ``eval_query`` queries per class in them.
        val_episodes: validation episodes evaluated every ``val_every`` steps.
        checkpoint_every: steps between checkpoints.
    """

    backbone: str
    image_size: int
    way: int
    train_shot: int
    test_shot: int
    query: int
    episodes_per_batch: int
    steps: int
    lr: float
    momentum: float
    weight_decay: float
    lr_drops: tuple[tuple[float, float], ...]
    label_smoothing: float
    eval_episodes: int
    eval_query: int
    val_episodes: int
    val_every: int
    checkpoint_every: int

    def __post_init__(self) -> None:
        if min(self.way, self.train_shot, self.test_shot, self.query, self.steps) < 1:
            raise ValueError("way, shots, query and steps must be >= 1")
        if self.episodes_per_batch < 1 or self.eval_episodes < 1:
            raise ValueError("episodes_per_batch and eval_episodes must be >= 1")

    def lr_factor(self, step: int) -> float:
        """Multiplier of ``lr`` at optimizer step ``step`` (0-based)."""
        factor = 1.0
        for fraction, value in self.lr_drops:
            if step >= fraction * self.steps:
                factor = value
        return factor


PRESETS: dict[str, Preset] = {
    "paper": Preset(
        backbone="resnet12",
        image_size=84,
        way=5,
        train_shot=15,
        test_shot=5,
        query=6,
        episodes_per_batch=8,
        steps=60_000,
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        lr_drops=((20 / 60, 0.06), (40 / 60, 0.012), (50 / 60, 0.0024)),
        label_smoothing=0.1,
        eval_episodes=1000,
        eval_query=15,
        val_episodes=200,
        val_every=1000,
        checkpoint_every=1000,
    ),
    "quick": Preset(
        backbone="conv4",
        image_size=32,
        way=5,
        train_shot=5,
        test_shot=5,
        query=6,
        episodes_per_batch=4,
        steps=150,
        lr=0.1,
        momentum=0.9,
        weight_decay=5e-4,
        lr_drops=((0.6, 0.1), (0.85, 0.01)),
        label_smoothing=0.1,
        eval_episodes=200,
        eval_query=15,
        val_episodes=40,
        val_every=50,
        checkpoint_every=50,
    ),
}


def preset(name: str, **overrides: int | float | str) -> Preset:
    """The preset ``name`` with fields replaced by ``overrides`` (None values are ignored)."""
    if name not in PRESETS:
        raise ValueError(f"preset: expected one of {sorted(PRESETS)}, got {name!r}")
    return replace(PRESETS[name], **{k: v for k, v in overrides.items() if v is not None})
