"""MetaOptNet's Crammer–Singer QP (the one ``qpth_baseline.py`` solves, see its docstring)
solved by ProxSuite 0.8.0's differentiable QP layer, ``proxsuite.torch.qplayer.QPFunction``
(Bambade et al., "QPLayer", 2023), at its default settings.

Per task, ``z = vec(α) (nk,)`` with ``α (n, k)``, in ProxSuite's form

    min_z  ½ z^T Q z + p^T z   s.t.  A z = b,  l <= G z <= u
    Q = K ⊗ I_k + 1.0 · I_nk,  p = -vec(Y),  A = I_n ⊗ 1_k^T,  b = 0,  G = I,
    l = -1e20 (ProxSuite's "no bound"),  u = C vec(Y)

with ``C = 1 / λ2``. Defaults of ``QPFunction()``: ``eps = 1e-9`` (absolute primal and dual
residual), ``maxIter = 1000``, the backward's own proximal solve at ``eps_backward = 1e-4``,
tasks solved one after the other (``omp_parallel=False``). ProxSuite solves in float64 and
returns the input's dtype. As for qpth, the gradient flows through ``Q`` only; the weights on the
query-visible features are ``W = α^T F (k, m)`` in float32, the reported dual ``Λ = Y - α / C``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from benchmarks.cases import METAOPTNET_DUAL_RIDGE, Case
from benchmarks.data import svm_data
from benchmarks.methods.base import Unavailable
from benchmarks.methods.qpth_baseline import CrammerSingerQP, block_kernel

NO_LOWER_BOUND = -1e20
"""What ProxSuite reads as an absent lower bound (its own examples use ±1e20)."""

NOTE = (
    "ProxSuite QPLayer: QPFunction() defaults (eps = 1e-9 absolute residuals, maxIter = 1000, "
    "backward eps 1e-4); MetaOptNet's QP with K + I, as qpth; tasks solved serially."
)
"""What the report says about this baseline's settings."""


class ProxsuiteCrammerSinger(CrammerSingerQP):
    """The QP data that do not depend on the features are built once, outside the timing."""

    def __init__(self, case: Case) -> None:
        super().__init__(case)
        try:
            from proxsuite.torch.qplayer import QPFunction
        except ImportError as err:  # pragma: no cover - depends on the environment
            raise Unavailable(
                f"proxsuite is not installed (pip install '.[bench]'): {err}"
            ) from err
        p = case.problem
        if p.dual_ridge != METAOPTNET_DUAL_RIDGE:
            raise Unavailable(
                f"proxsuite solves MetaOptNet's QP (lam1 = 0, dual_ridge = "
                f"{METAOPTNET_DUAL_RIDGE:g}) only; {p.id} is another problem"
            )
        data = svm_data(p)
        t, n, k = case.tasks, p.n, p.k
        dtype = data.features.dtype
        self.C = 1 / data.lam2
        self.qp = QPFunction()
        self.features = data.features[:t].clone().requires_grad_(True)
        self.Y = torch.nn.functional.one_hot(data.labels[:t], k).to(dtype)
        self.ridge = METAOPTNET_DUAL_RIDGE * torch.eye(n * k, dtype=dtype)
        self.linear = -self.Y.reshape(t, n * k)
        self.A = torch.kron(torch.eye(n, dtype=dtype), torch.ones(1, k, dtype=dtype))
        self.A = self.A.expand(t, n, n * k)
        self.b = torch.zeros(t, n, dtype=dtype)
        self.G = torch.eye(n * k, dtype=dtype).expand(t, n * k, n * k)
        self.upper = self.C * self.Y.reshape(t, n * k)
        self.lower = torch.full_like(self.upper, NO_LOWER_BOUND)
        self.cotangent = data.cotangent[:t].to(torch.float32)

    def _solve(self) -> tuple[Tensor, Tensor]:
        F = self.features
        Q = block_kernel(F @ F.mT, self.case.problem.k) + self.ridge
        z, _, _ = self.qp(Q, self.linear, self.A, self.b, self.G, self.lower, self.upper)
        alpha = z.reshape(self.Y.shape)
        weights = alpha.float().mT @ F.float()
        return weights, alpha
