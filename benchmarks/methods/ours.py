"""Our layers, called through the public functional API exactly as a user would."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

import sparselayers as sl
from benchmarks.cases import REGRESSION_TOL, SVM_TOL, Case
from benchmarks.data import regression_data, svm_data
from benchmarks.methods.base import Output, Runner, Unavailable
from benchmarks.metrics import l21_weights

BACKWARD = {"sl-implicit": "implicit", "sl-unroll": "unroll", "sl-cvxpy": "cvxpy"}


def svm_available() -> bool:
    """Whether the library has the group-lasso SVM head yet."""
    return hasattr(sl.functional, "group_lasso_svm_dual")


class RegressionLayer(Runner):
    """``group_lasso`` / ``ridge`` with ``relative=True`` (λ = lam · λ_max, detached)."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        data = regression_data(case.problem)
        t = case.tasks
        self.solve = (
            sl.functional.ridge if case.problem.layer == "ridge" else sl.functional.group_lasso
        )
        self.backward = BACKWARD[case.method.name]
        self.features = data.features[:t].clone().requires_grad_(True)
        self.targets = data.targets[:t].clone().requires_grad_(True)
        self.cotangent = data.cotangent[:t].to(data.features.dtype)

    def _weights(self) -> Tensor:
        sol = self.solve(
            self.features,
            self.targets,
            self.case.problem.lam,
            relative=True,
            backward=self.backward,
            tol=REGRESSION_TOL,
        )
        return sol.weights

    def forward(self) -> Output:
        return Output(self._weights())

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.features.grad = self.targets.grad = None
        self._weights().backward(self.cotangent)
        return self.features.grad, self.targets.grad

    def start_backward(self) -> Callable[[], None]:
        self.features.grad = self.targets.grad = None
        weights = self._weights()
        return lambda: weights.backward(self.cotangent)


class L21Penalty(Runner):
    """``l21_norm`` of weights with zero columns; the forward value is returned as 'weights'."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        self.weights = l21_weights(case.problem)[: case.tasks].float().requires_grad_(True)
        self.cotangent = regression_data(case.problem).cotangent[: case.tasks, 0, 0].float()

    def forward(self) -> Output:
        return Output(sl.functional.l21_norm(self.weights))

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.weights.grad = None
        (sl.functional.l21_norm(self.weights) * self.cotangent).sum().backward()
        return (self.weights.grad,)


class SvmHead(Runner):
    """``group_lasso_svm_dual`` (the meta-learning head) at ``tol = SVM_TOL``; on MetaOptNet's
    problem with ``dual_ridge=problem.dual_ridge`` (λ1 = 0, λ2 = 1 / C: qpth's QP)."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        if not svm_available():
            raise Unavailable(
                "sparselayers.functional.group_lasso_svm_dual does not exist yet (the SVM head "
                "is being written); its cases are skipped until it lands"
            )
        data = svm_data(case.problem)
        t = case.tasks
        self.data = data
        self.backward = BACKWARD[case.method.name]
        self.features = data.features[:t].clone().requires_grad_(True)
        self.labels = data.labels[:t]
        self.cotangent = data.cotangent[:t].to(data.features.dtype)

    def _solve(self):
        return sl.functional.group_lasso_svm_dual(
            self.features,
            self.labels,
            self.data.lam1,
            self.data.lam2,
            num_classes=self.case.problem.k,
            backward=self.backward,
            tol=SVM_TOL,
            dual_ridge=self.case.problem.dual_ridge,
        )

    def forward(self) -> Output:
        sol = self._solve()
        return Output(sol.weights, sol.dual)

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.features.grad = None
        self._solve().weights.backward(self.cotangent)
        return (self.features.grad,)

    def start_backward(self) -> Callable[[], None]:
        self.features.grad = None
        weights = self._solve().weights
        return lambda: weights.backward(self.cotangent)


def floor_inputs(case: Case) -> tuple[Tensor, Tensor]:
    """``(F, Y3)`` of the matmul floor: ``F (T, n, m)``, ``Y3 (T, n, k)`` (one-hot for the SVM)."""
    t = case.tasks
    if case.problem.layer == "svm":
        data = svm_data(case.problem)
        F = data.features[:t]
        Y = torch.nn.functional.one_hot(data.labels[:t], case.problem.k).to(F.dtype)
        return F, Y
    data = regression_data(case.problem)
    F = data.features[:t]
    Y = data.targets[:t]
    return F, (Y.unsqueeze(-1) if Y.ndim == 2 else Y)


class MatmulFloor(Runner):
    """The physical floor: one batched matmul ``F^T Y`` ``(T, m, n) @ (T, n, k)``, i.e. reading
    the features once, as any solver must (it is also one gradient of the datafit)."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        self.F, self.Y = floor_inputs(case)

    def forward(self) -> Output:
        return Output(torch.matmul(self.F.mT, self.Y))
