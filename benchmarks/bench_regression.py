"""asv benchmarks of the regression layers and their baselines: the group Lasso (against
cvxpylayers, scikit-learn and unrolling) and the other layers (ridge, L21)."""

from benchmarks.asv_base import _Accuracy, _Forward, _ForwardBackward
from benchmarks.cases import family_axes


class GroupLassoForward(_Forward):
    params = family_axes("group_lasso")


class GroupLassoForwardBackward(_ForwardBackward):
    params = family_axes("group_lasso", differentiable=True)


class GroupLassoAccuracy(_Accuracy):
    params = family_axes("group_lasso")


class OtherLayersForward(_Forward):
    params = family_axes("other")


class OtherLayersForwardBackward(_ForwardBackward):
    params = family_axes("other", differentiable=True)


class OtherLayersAccuracy(_Accuracy):
    params = family_axes("other")
