"""MetaOptNet's Crammer–Singer SVM head (Lee et al., CVPR 2019, ``MetaOptNetHead_SVM_CS``),
written here from its formulation, solved by qpth 0.0.17's batched interior point.

Dual variables ``α (n, k)`` per task, kernel ``K = F F^T`` plus MetaOptNet's unit ridge:

    min_α  ½ vec(α)^T (K ⊗ I_k + 1.0 · I_nk) vec(α) - <Y, α>
    s.t.   α ≤ C Y (elementwise),   Σ_l α_il = 0 for every sample i

with ``C = C_reg = 0.1`` and 15 interior-point iterations (``maxIter=15``), as MetaOptNet trains.
The ``+ 1.0 · I`` (added in MetaOptNet as a fix for the solver's PSD errors) makes this the exact
Crammer–Singer SVM on the features ``[F, I_n]``, not on ``F``: each support sample gets a
private feature whose weight ``α_i^T`` absorbs part of its slack. With ``α = C (Y - Λ)`` it is our
head's dual with ``λ1 = 0``, ``λ2 = 1 / C`` and ``dual_ridge = 1.0``, which the registry measures
on the same problem (``cases.METAOPTNET_DUAL_RIDGE``); ``Λ = Y - α / C`` is the dual point whose
gap we report. Weights on the (query-visible) features ``W = α^T F (k, m)``; MetaOptNet casts the
QP solution to float32 before its logits ``Σ_i α_i (f_i · q)``, so ``W`` is float32 here too. As in
MetaOptNet the gradient flows through ``K`` (the other QP data are detached).
"""

from __future__ import annotations

import torch
from torch import Tensor

from benchmarks.cases import METAOPTNET_DUAL_RIDGE, Case
from benchmarks.data import svm_data
from benchmarks.methods.base import Output, Runner, Unavailable

MAX_ITER = 15


def block_kernel(K: Tensor, k: int) -> Tensor:
    """``K ⊗ I_k`` per task: ``(T, n, n)`` → ``(T, nk, nk)``, index ``(i, a), (j, b)``."""
    T, n, _ = K.shape
    eye = torch.eye(k, dtype=K.dtype)
    return (K[:, :, None, :, None] * eye[:, None, :]).reshape(T, n * k, n * k)


class CrammerSingerQP(Runner):
    """What the QP-layer baselines of MetaOptNet's head share: ``_solve() -> (W, α)`` from
    ``self.features`` (a subclass's QP layer), reported with the dual point ``Λ = Y - α / C``
    whose gap ``measure.py`` evaluates, and differentiated with the problem's cotangent."""

    features: Tensor
    Y: Tensor
    C: float
    cotangent: Tensor

    def _solve(self) -> tuple[Tensor, Tensor]:
        raise NotImplementedError

    def forward(self) -> Output:
        W, alpha = self._solve()
        return Output(W, self.Y - alpha.detach() / self.C)

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.features.grad = None
        W, _ = self._solve()
        W.backward(self.cotangent)
        return (self.features.grad,)


class QpthCrammerSinger(CrammerSingerQP):
    """The QP data that do not depend on the features are built once, outside the timing."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        try:
            from qpth.qp import QPFunction
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise Unavailable(f"qpth is not installed: {err}") from err
        p = case.problem
        if p.dual_ridge != METAOPTNET_DUAL_RIDGE:
            raise Unavailable(
                f"qpth solves MetaOptNet's QP (lam1 = 0, dual_ridge = {METAOPTNET_DUAL_RIDGE:g}) "
                f"only; {p.id} is another problem"
            )
        data = svm_data(p)
        t, n, k = case.tasks, p.n, p.k
        dtype = data.features.dtype
        self.C = 1 / data.lam2
        self.qp = QPFunction(verbose=-1, maxIter=MAX_ITER)
        self.features = data.features[:t].clone().requires_grad_(True)
        Y = torch.nn.functional.one_hot(data.labels[:t], k).to(dtype)
        self.Y = Y
        self.ridge = METAOPTNET_DUAL_RIDGE * torch.eye(n * k, dtype=dtype)
        self.linear = -Y.reshape(t, n * k)
        self.G = torch.eye(n * k, dtype=dtype).expand(t, n * k, n * k)
        self.h = self.C * Y.reshape(t, n * k)
        self.A = torch.kron(torch.eye(n, dtype=dtype), torch.ones(1, k, dtype=dtype))
        self.A = self.A.expand(t, n, n * k)
        self.b = torch.zeros(t, n, dtype=dtype)
        self.cotangent = data.cotangent[:t].to(torch.float32)

    def _solve(self) -> tuple[Tensor, Tensor]:
        F = self.features
        Q = block_kernel(F @ F.mT, self.case.problem.k) + self.ridge
        alpha = self.qp(Q, self.linear, self.G, self.h, self.A, self.b)
        alpha = alpha.reshape(self.Y.shape)
        # MetaOptNet: ``qp_sol.float()`` before the logits, whatever the precision of the QP.
        weights = alpha.float().mT @ F.float()
        return weights, alpha
