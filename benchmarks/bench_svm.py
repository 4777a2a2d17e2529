"""asv benchmarks of the group-lasso SVM head against MetaOptNet's qpth head."""

from benchmarks.asv_base import _Accuracy, _Forward, _ForwardBackward, _Ops
from benchmarks.cases import asv_axes
from benchmarks.measure import COUNTED_METHODS


class SvmForward(_Forward):
    params = asv_axes("svm")


class SvmForwardBackward(_ForwardBackward):
    params = asv_axes("svm", differentiable=True)


class SvmAccuracy(_Accuracy):
    params = asv_axes("svm")


class SvmOps(_Ops):
    params = asv_axes("svm", methods=COUNTED_METHODS)
