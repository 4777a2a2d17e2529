"""asv benchmarks of the group-lasso SVM head against MetaOptNet's qpth head."""

from benchmarks.asv_base import _Accuracy, _Forward, _ForwardBackward
from benchmarks.cases import family_axes


class SvmForward(_Forward):
    params = family_axes("svm")


class SvmForwardBackward(_ForwardBackward):
    params = family_axes("svm", differentiable=True)


class SvmAccuracy(_Accuracy):
    params = family_axes("svm")
