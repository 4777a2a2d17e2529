"""sparselayers: exact, differentiable sparse optimization layers for PyTorch.

Layers solve a convex problem per task (leading dims of the inputs), certified by a duality gap,
and differentiate the solution implicitly on its support (or by unrolling, or through a
cvxpy/diffcp reference). See ``sparselayers.functional`` for the functional forms.
"""

from sparselayers import functional
from sparselayers.backward.modes import Backward
from sparselayers.layers import (
    GroupLassoMulticlassSVMDual,
    GroupLassoRegression,
    L21OuterPenalty,
    RidgeRegression,
)
from sparselayers.solution import RegressionSolution, SVMSolution

__all__ = [
    "Backward",
    "GroupLassoMulticlassSVMDual",
    "GroupLassoRegression",
    "L21OuterPenalty",
    "RegressionSolution",
    "RidgeRegression",
    "SVMSolution",
    "functional",
]
__version__ = "0.1.0"
