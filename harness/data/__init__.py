"""Datasets of the harness: the 3D Shapes factor grid, its procedural renderer, the real file's
reader, latent distributions, task weights and the task sampler (paper Appendix D.2.1)."""

from harness.data.factors import FACTOR_NAMES, SHAPE_NAMES, FactorGrid, shapes3d_grid
from harness.data.latents import LatentDistribution
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig, render, render_layers
from harness.data.sampler import ImageSource, TaskBatch, TaskSampler
from harness.data.tasks import (
    WEIGHT_DISTRIBUTIONS,
    BernoulliGaussianWeights,
    BlockGaussianWeights,
    LaplaceWeights,
    WeightDistribution,
    make_targets,
    weight_distribution,
)
from harness.data.threedshapes import ThreeDShapesFile

__all__ = [
    "FACTOR_NAMES",
    "SHAPE_NAMES",
    "WEIGHT_DISTRIBUTIONS",
    "BernoulliGaussianWeights",
    "BlockGaussianWeights",
    "FactorGrid",
    "ImageSource",
    "LaplaceWeights",
    "LatentDistribution",
    "ProceduralShapes",
    "SceneConfig",
    "TaskBatch",
    "TaskSampler",
    "ThreeDShapesFile",
    "WeightDistribution",
    "make_targets",
    "render",
    "render_layers",
    "shapes3d_grid",
    "weight_distribution",
]
