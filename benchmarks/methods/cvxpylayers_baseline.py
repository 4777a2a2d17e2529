"""cvxpylayers 1.2.0 on the same group-Lasso problems, written in cvxpy here as a user of
cvxpylayers would write them, with its default settings (whose batch runs on a thread pool over
all CPUs), on one job, or with its exact dense derivative.

Per task, DPP parameters ``F (n, m)``, ``Y (n, k)``, ``lam >= 0`` and variable ``W (k, m)``:

    min_W  1/(2n) ||Y - F W^T||²_F + lam Σ_j ||W[:, j]||₂

(the rows of ``B = W^T`` are the groups), i.e. the library's ``group_lasso``.
"""

from __future__ import annotations

from functools import lru_cache

from torch import Tensor

from benchmarks.cases import Case
from benchmarks.data import regression_data
from benchmarks.methods.base import Output, Runner, Unavailable

SOLVER_ARGS = {
    "cvxpylayers": {},
    "cvxpylayers-dense": {"mode": "dense"},
    # diffcp solves and differentiates a batch on a thread pool over all CPUs by default (both
    # cores here), while every other method runs on one thread: this variant is the per-core
    # comparison.
    "cvxpylayers-serial": {"n_jobs_forward": 1, "n_jobs_backward": 1},
}


def group_lasso_problem(n: int, m: int, k: int):
    """The group Lasso in cvxpy (DPP): ``(problem, [F, Y, lam], [W])``."""
    import cvxpy as cp

    F = cp.Parameter((n, m))
    Y = cp.Parameter((n, k))
    lam = cp.Parameter(nonneg=True)
    W = cp.Variable((k, m))
    datafit = cp.sum_squares(Y - F @ W.T) / (2 * n)
    penalty = cp.sum(cp.norm(W, 2, axis=0))  # one norm per column of W (feature)
    problem = cp.Problem(cp.Minimize(datafit + lam * penalty))
    return problem, [F, Y, lam], [W]


@lru_cache(maxsize=16)
def cvxpy_layer(n: int, m: int, k: int):
    """A ``CvxpyLayer`` with parameters ``[F (n, m), Y (n, k), lam]`` and variable ``W (k, m)``
    (construction takes up to seconds, so it is built once, outside the timed region)."""
    try:
        from cvxpylayers.torch import CvxpyLayer
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise Unavailable(f"cvxpylayers is not installed: {err}") from err
    problem, parameters, variables = group_lasso_problem(n, m, k)
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
        (W,) = self.layer(self.features, self.targets, self.lam, solver_args=self.args)
        return W[..., 0, :] if self.vector else W

    def forward(self) -> Output:
        return Output(self._weights())

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.features.grad = self.targets.grad = None
        self._weights().backward(self.cotangent.to(self.features.dtype))
        grad_targets = self.targets.grad
        return self.features.grad, grad_targets[..., 0] if self.vector else grad_targets
