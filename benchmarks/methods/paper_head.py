"""The paper's own group-lasso SVM head, written here in torch from the algorithm of its released
code (Lachapelle et al., ICML 2023; repository ``tristandeleu/synergies-disentanglement-sparsity``,
``metaoptnet/models/classification_heads.py``: ``SparseMetaOptNetHead_SVM_dual``, and
``metaoptnet/models/utils.py``: ``grad_inner_loss``, ``inner_step_pgd_``, ``proj_simplex``).

The dual it solves, per task, over ``Λ (n, k)`` with rows on the simplex (``c`` is its
``dual_reg``):

    f(Λ) = 1/(2 λ2) Σ_j ||BST((Y - Λ)^T F_j, λ1)||² + c/(2 λ2) ||Y - Λ||² + <Y, Λ>

i.e. our head's dual with ``dual_ridge = c``; weights ``W = BST((Y - Λ)^T F, λ1)^T / λ2 (k, m)``.

Forward, as in that code: ``num_steps`` projected-gradient steps ``Λ ← Π_Δ(Λ - η ∇f(Λ))`` from
``Λ = 1/k``, with ``η = 1 / (λ_max(F F^T)/λ2 + c/λ2)`` per task (detached), and no stopping test.
Backward: implicit differentiation of the fixed point ``R(Λ, F) = Λ - Π_Δ(Λ - η ∇f(Λ))`` at the
returned (unconverged) ``Λ``, as torchopt's ``custom_root`` does it: ``u`` solves
``(∂_Λ R)^T u = -v`` by conjugate gradient on the normal equations
``(A A^T + ρ I) u = A (-v)``, ``A = ∂_Λ R``, with ``maxiter = 5``, ``rtol = 1e-5`` (torchopt's
default) and inner products over the whole batch (torchopt's CG treats the batch as one vector),
``ρ = 1 / max_t η_t / 1000``; then ``∂F = (∂_F R)^T u``, plus the explicit path of ``W``.

Defaults found there: ``num_steps = 5``, ``dual_reg = 1.0``, ``lambda2 = 1000``,
``lambda1 = 0`` (``metaoptnet/train.py`` argparse), ``algo = 'pgd'``, CG ``maxiter = 5``,
``atol = 0``, ridge as above (``classification_heads.py``).

Deliberate departures, so that the head solves the registered problem:

- ``λ1``, ``λ2`` are the problem's (``data.svm_data``), not the code's defaults;
- ``dual_reg = problem.dual_ridge`` (0 on the plain heads this baseline is measured on): its
  default 1.0 would solve the head on ``[F, I_n]`` (a private unpenalized feature per sample),
  a different problem whose gap against the registered one would not measure convergence;
- ``η`` from ``eigvalsh`` of the symmetric ``F F^T`` instead of ``eigvals`` (same largest value);
- the block soft-threshold returns a zero gradient at a zero group where the original gives
  NaN (``relu(1 - λ1/||a||) a`` at ``a = 0``).

The gap that ``measure.py`` reports is ``metrics.svm_gap`` at the returned ``(W, Λ)``: the same
formula as for every other method (``Λ`` already lies on the simplex).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from benchmarks.cases import Case
from benchmarks.data import svm_data
from benchmarks.methods.base import Output, Runner
from benchmarks.metrics import project_rows_on_simplex

NOTE = (
    "paper head: the released code's algorithm at its defaults (5 PGD steps from 1/k, no "
    "stopping test; implicit backward at the unconverged point by 5 normal-equation CG "
    "iterations with ridge 1/max(step)/1000), on the registered problem (its lambda1, lambda2; "
    "dual_reg = 0 instead of the code's 1.0, which would be another problem)."
)
"""What the report says about this baseline's settings."""


@dataclass(frozen=True)
class PaperHeadSettings:
    """Iteration counts of the paper's head (defaults: its released code's).

    Attributes:
        steps: projected-gradient steps of the forward (``--num_steps``).
        cg_iterations: CG iterations of the backward (``solve_normal_cg(maxiter=5)``).
        cg_rtol: CG's relative residual tolerance (torchopt's default).
        ridge_fraction: ``ρ = ridge_fraction / max_t η_t`` (``1 / max(stepsizes) / 1000``).
    """

    steps: int = 5
    cg_iterations: int = 5
    cg_rtol: float = 1e-5
    ridge_fraction: float = 1e-3

    def __post_init__(self) -> None:
        if self.steps < 1 or self.cg_iterations < 0:
            raise ValueError("steps must be >= 1 and cg_iterations >= 0")
        if not (self.cg_rtol >= 0 and self.ridge_fraction >= 0):
            raise ValueError("cg_rtol and ridge_fraction must be >= 0")


DEFAULTS = PaperHeadSettings()


def block_soft_threshold(A: Tensor, tau: float) -> Tensor:
    """``BST(a, τ) = (1 - τ/||a||)₊ a`` on every row of ``A (..., m, k)``; identity at τ = 0
    (as in the original); a zero gradient at a zero row."""
    if tau == 0:
        return A
    norms = A.norm(dim=-1, keepdim=True).clamp_min(torch.finfo(A.dtype).tiny)
    return (1 - tau / norms).clamp_min(0) * A


@dataclass(frozen=True)
class DualProblem:
    """One batch of the paper head's dual: ``F (T, n, m)``, one-hot ``Y (T, n, k)``, scalars
    ``lam1``, ``lam2``, ``dual_reg`` and the detached step sizes ``step (T, 1, 1)``."""

    Y: Tensor
    step: Tensor
    lam1: float
    lam2: float
    dual_reg: float

    def gradient(self, Lam: Tensor, F: Tensor) -> Tensor:
        """``∇f(Λ) = Y - (F BST(F^T (Y - Λ), λ1) + c (Y - Λ)) / λ2``, ``(T, n, k)``."""
        R = self.Y - Lam
        B = block_soft_threshold(F.mT @ R, self.lam1)
        return self.Y - (F @ B + self.dual_reg * R) / self.lam2

    def pgd_step(self, Lam: Tensor, F: Tensor) -> Tensor:
        """One projected-gradient step ``Π_Δ(Λ - η ∇f(Λ))`` (rows projected on the simplex)."""
        return project_rows_on_simplex(Lam - self.step * self.gradient(Lam, F))

    def residual(self, Lam: Tensor, F: Tensor) -> Tensor:
        """The fixed-point residual ``R(Λ, F) = Λ - Π_Δ(Λ - η ∇f(Λ))`` (zero at the optimum)."""
        return Lam - self.pgd_step(Lam, F)


def step_sizes(F: Tensor, lam2: float, dual_reg: float) -> Tensor:
    """``η = 1 / (λ_max(F F^T)/λ2 + c/λ2)`` per task, ``(T, 1, 1)``, detached."""
    with torch.no_grad():
        top = torch.linalg.eigvalsh(F @ F.mT)[..., -1]
    return (lam2 / (top + dual_reg))[:, None, None]


def batch_dot(a: Tensor, b: Tensor) -> Tensor:
    """``<a, b>`` over the whole batch (torchopt's CG treats the batch as one vector)."""
    return (a * b).sum()


def normal_cg(matvec, rmatvec, b: Tensor, ridge: float, settings: PaperHeadSettings) -> Tensor:
    """Solve ``(M^T M + ρ I) x = M^T b`` by CG from 0, ``matvec = M·``, ``rmatvec = M^T·``:
    torchopt's ``solve_normal_cg`` with its ``cg`` (stop once ``||r|| <= rtol ||rhs||``)."""
    rhs = rmatvec(b)
    x = torch.zeros_like(rhs)
    r = rhs.clone()
    p = r.clone()
    gamma = batch_dot(r, r)
    limit = settings.cg_rtol**2 * gamma
    for _ in range(settings.cg_iterations):
        if not gamma > limit:
            break
        Ap = rmatvec(matvec(p)) + ridge * p
        alpha = gamma / batch_dot(p, Ap)
        x = x + alpha * p
        r = r - alpha * Ap
        gamma_next = batch_dot(r, r)
        p = r + (gamma_next / gamma) * p
        gamma = gamma_next
    return x


class _PaperDual(torch.autograd.Function):
    """``Λ`` from ``settings.steps`` PGD steps; backward by the paper's implicit CG solve."""

    @staticmethod
    def forward(ctx, F: Tensor, problem: DualProblem, settings: PaperHeadSettings) -> Tensor:
        T, n, k = problem.Y.shape
        Lam = torch.full((T, n, k), 1 / k, dtype=F.dtype)
        with torch.no_grad():
            for _ in range(settings.steps):
                Lam = problem.pgd_step(Lam, F)
        ctx.save_for_backward(F, Lam)
        ctx.problem, ctx.settings = problem, settings
        return Lam

    @staticmethod
    def backward(ctx, grad: Tensor):
        F, Lam = ctx.saved_tensors
        problem, settings = ctx.problem, ctx.settings

        def in_lam(L: Tensor) -> Tensor:
            return problem.residual(L, F)

        _, vjp_lam = torch.func.vjp(in_lam, Lam)

        def transposed(u: Tensor) -> Tensor:  # (∂_Λ R)^T u: torchopt's matvec
            return vjp_lam(u)[0]

        # (∂_Λ R) x as the transpose of the linear map above (a vjp of the vjp), as torchopt's
        # ``make_rmatvec`` builds it.
        _, vjp_transposed = torch.func.vjp(transposed, torch.zeros_like(Lam))

        def jacobian(x: Tensor) -> Tensor:
            return vjp_transposed(x)[0]

        ridge = settings.ridge_fraction / float(problem.step.max())
        u = normal_cg(transposed, jacobian, -grad, ridge, settings)
        _, vjp_f = torch.func.vjp(lambda F_: problem.residual(Lam, F_), F)
        return vjp_f(u)[0], None, None


def paper_head(
    F: Tensor,
    labels: Tensor,
    lam1: float,
    lam2: float,
    num_classes: int,
    dual_reg: float = 0.0,
    settings: PaperHeadSettings = DEFAULTS,
) -> tuple[Tensor, Tensor]:
    """The paper's head on ``F (T, n, m)``, ``labels (T, n)``: ``(W (T, k, m), Λ (T, n, k))``;
    gradients flow to ``F`` (implicitly through ``Λ`` and explicitly through ``W``)."""
    Y = torch.nn.functional.one_hot(labels, num_classes).to(F.dtype)
    problem = DualProblem(Y, step_sizes(F, lam2, dual_reg), lam1, lam2, dual_reg)
    Lam = _PaperDual.apply(F, problem, settings)
    W = block_soft_threshold(F.mT @ (Y - Lam), lam1).mT / lam2
    return W, Lam


class PaperHead(Runner):
    """The paper's head at its default iteration counts on an SVM problem of the registry."""

    def __init__(self, case: Case, settings: PaperHeadSettings = DEFAULTS) -> None:
        super().__init__(case)
        data = svm_data(case.problem)
        t = case.tasks
        self.data = data
        self.settings = settings
        self.features = data.features[:t].clone().requires_grad_(True)
        self.labels = data.labels[:t]
        self.cotangent = data.cotangent[:t].to(data.features.dtype)

    def _solve(self) -> tuple[Tensor, Tensor]:
        p = self.case.problem
        return paper_head(
            self.features,
            self.labels,
            self.data.lam1,
            self.data.lam2,
            p.k,
            dual_reg=p.dual_ridge,
            settings=self.settings,
        )

    def forward(self) -> Output:
        W, Lam = self._solve()
        return Output(W, Lam.detach())

    def forward_backward(self) -> tuple[Tensor, ...]:
        self.features.grad = None
        W, _ = self._solve()
        W.backward(self.cotangent)
        return (self.features.grad,)
