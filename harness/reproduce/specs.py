"""What ``reproduce`` runs: the paper's figures as sweeps of rows, at three scales.

Section 5.1's figures are specified here; Fig. 1 and Fig. 5, which are studies of their own,
are `harness.reproduce.studies` (their names join `FIGURE_NAMES`).

A `Scale` fixes the preset (`harness.disentanglement.config.PRESETS`), the seeds and the axes
of every figure; a `FigureSpec` turns a scale into its rows. All figures of a scale share one
sweep directory, so a row two figures need (e.g. ρ = 0.9, α = 1 in Fig. 4's ρ and α panels)
and a training run two rows need (inner-Ridge and inner-Ridge+ICA) are computed once. Rows
are listed key settings first (ρ = 0 and 0.9 before the others) so that an interrupted sweep
has the headline claims first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from harness.disentanglement.config import RunConfig, preset
from harness.disentanglement.sweep import INNER, LAMS, expand


@dataclass(frozen=True)
class Scale:
    """The settings of one scale of the reproduction.

    Attributes:
        preset: the disentanglement preset of every run.
        seeds: seeds 0..seeds-1 of every row.
        lams: the λ/λ_max grid of the inner methods.
        rhos: the correlations of Fig. 4/6/15 (and Fig. 9), key values first.
        alphas: the noise levels of Fig. 4's lower row (ρ = 0.9), besides α = 1.
        blocks: the block-support weight distributions of Fig. 8 (ρ = 0.9).
        laplace_rhos: the correlations of Fig. 9.
        outer_lams: the absolute outer λ grid of Fig. 10 (ρ = 0.9).
        overrides: settings changed from the preset (the smoke scale's tiny runs).
    """

    preset: str
    seeds: int
    lams: tuple[float, ...]
    rhos: tuple[float, ...]
    alphas: tuple[float, ...]
    blocks: tuple[str, ...]
    laplace_rhos: tuple[float, ...]
    outer_lams: tuple[float, ...]
    overrides: tuple[tuple[str, object], ...] = ()

    def base(self) -> RunConfig:
        """The run settings every row starts from."""
        return preset(self.preset, **dict(self.overrides))


SCALES: dict[str, Scale] = {
    "smoke": Scale(
        preset="smoke",
        seeds=1,
        lams=(0.0, 0.1),
        rhos=(0.0, 0.9),
        alphas=(0.0,),
        blocks=("block2", "block6"),
        laplace_rhos=(0.0,),
        outer_lams=(0.0, 0.1),
    ),
    "quick": Scale(
        preset="quick",
        seeds=1,
        lams=LAMS,
        rhos=(0.0, 0.9, 0.5, 0.99),
        alphas=(0.0, 0.5),
        blocks=("block2", "block3", "block6"),
        laplace_rhos=(0.0, 0.9),
        outer_lams=(0.0, 0.001, 0.01, 0.1, 1.0),
    ),
    "paper": Scale(
        preset="paper",
        seeds=3,
        lams=LAMS,
        rhos=(0.0, 0.9, 0.5, 0.8, 0.95, 0.99),
        alphas=(0.0, 0.25, 0.5, 0.75),
        blocks=("block2", "block3", "block6"),
        laplace_rhos=(0.0, 0.9, 0.5, 0.8, 0.95, 0.99),
        outer_lams=(0.0, 0.001, 0.01, 0.1, 1.0),
    ),
}


@dataclass(frozen=True)
class FigureSpec:
    """A figure of the paper and the rows it needs at a scale."""

    name: str
    title: str
    rows: Callable[[Scale], list[RunConfig]]


def _grid(scale: Scale, methods, lams, rhos, alphas=(1.0,), weights=("bernoulli",)):
    seeds = tuple(range(scale.seeds))
    rows: list[RunConfig] = []
    for rho in rhos:  # key ρ first: an interrupted sweep has them
        rows += expand(scale.base(), methods, lams, (rho,), alphas, weights, seeds)
    return rows


FIGURES: tuple[FigureSpec, ...] = (
    FigureSpec(
        "fig4",
        "Fig. 4 / 6 / 15 (top rows): MCC, R, DCI against λ for ρ ∈ rhos, α = 1",
        lambda s: _grid(s, INNER, s.lams, s.rhos),
    ),
    FigureSpec(
        "fig10",
        "Fig. 10: outer-Lasso, outer-Ridge and outer-Ridge+ICA against the outer λ, ρ = 0.9",
        lambda s: _grid(s, ("outer-lasso", "outer-ridge", "outer-ridge-ica"), s.outer_lams, (0.9,)),
    ),
    FigureSpec(
        "fig8",
        "Fig. 8: block supports of size 2, 3, 6 (6 = no sparsity), ρ = 0.9",
        lambda s: _grid(s, INNER, s.lams, (0.9,), weights=s.blocks),
    ),
    FigureSpec(
        "fig4-noise",
        "Fig. 4 / 6 / 15 (bottom rows): against λ for α ∈ alphas and 1, ρ = 0.9",
        lambda s: _grid(s, INNER, s.lams, (0.9,), alphas=(*s.alphas, 1.0)),
    ),
    FigureSpec(
        "fig9",
        "Fig. 9: Laplace task weights (no exact zeros), as Fig. 4",
        lambda s: _grid(s, INNER, s.lams, s.laplace_rhos, weights=("laplace",)),
    ),
    FigureSpec(
        "headline",
        "The single run of Fig. 13's setting: inner-Lasso, λ = 0.1 λ_max, ρ = 0.9 (a GPU check "
        "at the paper scale)",
        lambda s: [replace(s.base(), method="inner-lasso", lam=0.1, rho=0.9)],
    ),
)
SWEEP_NAMES = tuple(f.name for f in FIGURES)
FIGURE_NAMES = ("fig1", *SWEEP_NAMES, "fig5")  # fig1, fig5: harness.reproduce.studies
DEFAULT_FIGURES = tuple(n for n in FIGURE_NAMES if n != "headline")


def figure(name: str) -> FigureSpec:
    """The spec of the figure ``name``."""
    for spec in FIGURES:
        if spec.name == name:
            return spec
    raise ValueError(f"only: unknown figure {name!r}; choose from {list(SWEEP_NAMES)}")


__all__ = [
    "DEFAULT_FIGURES",
    "FIGURES",
    "FIGURE_NAMES",
    "SCALES",
    "SWEEP_NAMES",
    "FigureSpec",
    "Scale",
    "figure",
]
