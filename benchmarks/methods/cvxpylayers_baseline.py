"""cvxpylayers 1.2.0 on the same group-Lasso problems (the cvxpy formulation of the library,
``problems/group_lasso.py``), with its default settings (whose batch runs on a thread pool over
all CPUs), on one job, or with its exact dense derivative."""

from __future__ import annotations

from functools import lru_cache

from torch import Tensor

from benchmarks.cases import Case
from benchmarks.data import regression_data
from benchmarks.methods.base import Output, Runner, Unavailable
from sparselayers.problems import GROUP_LASSO

SOLVER_ARGS = {
    "cvxpylayers": {},
    "cvxpylayers-dense": {"mode": "dense"},
    # diffcp solves and differentiates a batch on a thread pool over all CPUs by default (both
    # cores here), while every other method runs on one thread: this variant is the per-core
    # comparison.
    "cvxpylayers-serial": {"n_jobs_forward": 1, "n_jobs_backward": 1},
}


@lru_cache(maxsize=16)
def cvxpy_layer(n: int, m: int, k: int):
    """A ``CvxpyLayer`` with parameters ``[F (n, m), Y (n, k), lam]`` and variable ``B (m, k)``
    (construction takes up to seconds, so it is built once, outside the timed region)."""
    try:
        from cvxpylayers.torch import CvxpyLayer
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise Unavailable(f"cvxpylayers is not installed: {err}") from err
    problem, parameters, variables = GROUP_LASSO.cvxpy_problem(n, m, k)
    return CvxpyLayer(problem, parameters=parameters, variables=variables)


class CvxpyLayersLasso(Runner):
    """Batched ``CvxpyLayer`` call; ``lam`` is the absolute λ of the problem (not differentiated).

    Inputs are passed in the problem's dtype, as a user would; cvxpylayers solves in float64.
    """

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        p = case.problem
        if p.layer != "group_lasso":
            raise Unavailable(f"no cvxpylayers baseline for {p.layer}")
        data = regression_data(p)
        t = case.tasks
        self.layer = cvxpy_layer(p.n, p.m, p.k)
        self.args = SOLVER_ARGS[case.method.name]
        self.features = data.features[:t].clone().requires_grad_(True)
        targets = data.targets[:t]
        self.vector = targets.ndim == 2
        self.targets = (targets.unsqueeze(-1) if self.vector else targets).clone()
        self.targets.requires_grad_(True)
        self.lam = data.lam[:t].to(data.features.dtype)
        self.cotangent = data.cotangent[:t].to(data.features.dtype)

    def _weights(self) -> Tensor:
        (B,) = self.layer(self.features, self.targets, self.lam, solver_args=self.args)
        return B[..., 0] if self.vector else B.mT

    def forward(self) -> Output:
        return Output(self._weights())

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.features.grad = self.targets.grad = None
        self._weights().backward(self.cotangent.to(self.features.dtype))
        grad_targets = self.targets.grad
        return self.features.grad, grad_targets[..., 0] if self.vector else grad_targets
