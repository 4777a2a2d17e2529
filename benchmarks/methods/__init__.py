"""Runners of every method of the registry (``benchmarks/cases.py``): ours and the baselines."""

from __future__ import annotations

from benchmarks.cases import Case
from benchmarks.methods.base import Output, Runner, Unavailable
from benchmarks.methods.celer_baseline import CelerLoop
from benchmarks.methods.cvxpylayers_baseline import CvxpyLayersLasso
from benchmarks.methods.ours import L21Penalty, MatmulFloor, RegressionLayer, SvmHead
from benchmarks.methods.paper_head import PaperHead
from benchmarks.methods.proxsuite_baseline import ProxsuiteCrammerSinger
from benchmarks.methods.qpth_baseline import QpthCrammerSinger
from benchmarks.methods.skglm_baseline import SkglmLoop
from benchmarks.methods.sklearn_baseline import SklearnLoop

__all__ = ["Output", "Runner", "Unavailable", "prepare"]

_OURS = {"group_lasso": RegressionLayer, "ridge": RegressionLayer, "svm": SvmHead}
_BASELINES = {
    "cvxpylayers": CvxpyLayersLasso,
    "cvxpylayers-dense": CvxpyLayersLasso,
    "cvxpylayers-serial": CvxpyLayersLasso,
    "sklearn": SklearnLoop,
    "skglm": SkglmLoop,
    "celer": CelerLoop,
    "qpth": QpthCrammerSinger,
    "proxsuite": ProxsuiteCrammerSinger,
    "paper-head": PaperHead,
    "floor": MatmulFloor,
}


def prepare(case: Case) -> Runner:
    """Build the runner of ``case`` (data, layer construction: all outside any timing)."""
    name = case.method.name
    if name == "sl-autograd":
        return L21Penalty(case)
    if name in _BASELINES:
        return _BASELINES[name](case)
    return _OURS[case.problem.layer](case)
