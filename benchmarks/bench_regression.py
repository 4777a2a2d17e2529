"""asv benchmarks of the regression layers and their baselines: the group Lasso (against
cvxpylayers, scikit-learn and unrolling) and the other layers (ridge, L21)."""

from benchmarks.asv_base import _Accuracy, _Forward, _ForwardBackward, _Ops
from benchmarks.cases import asv_axes
from benchmarks.measure import COUNTED_METHODS


class GroupLassoForward(_Forward):
    params = asv_axes("group_lasso")


class GroupLassoForwardBackward(_ForwardBackward):
    params = asv_axes("group_lasso", differentiable=True)


class GroupLassoAccuracy(_Accuracy):
    params = asv_axes("group_lasso")


class GroupLassoOps(_Ops):
    params = asv_axes("group_lasso", methods=COUNTED_METHODS)


class OtherLayersForward(_Forward):
    params = asv_axes("other")


class OtherLayersForwardBackward(_ForwardBackward):
    params = asv_axes("other", differentiable=True)


class OtherLayersAccuracy(_Accuracy):
    params = asv_axes("other")
