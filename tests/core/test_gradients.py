"""Gradients against independent references: finite differences of scikit-learn's solver,
gradcheck in float64, the other backward modes, and closed forms."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso
from torch.autograd import gradcheck

import sparselayers as sl
from sparselayers.problems import GROUP_LASSO
from tests.core.conftest import regression_problem

MODES = ["implicit", "unroll", "cvxpy"]


def lasso_numpy(F, y, lam):
    model = Lasso(alpha=lam, fit_intercept=False, tol=1e-15, max_iter=1_000_000)
    return model.fit(F, y).coef_


@pytest.mark.parametrize("mode", ["implicit", "unroll"])
@pytest.mark.parametrize("k", [None, 2])
def test_gradcheck(mode, k):
    F, Y = regression_problem(tasks=(2,), n=12, m=5, k=k)
    # Absolute lam: with relative=True, lambda_max is detached by design, so finite
    # differences in F would see a dependence that the gradient deliberately ignores.
    lam = 0.15 * GROUP_LASSO.lambda_max(F, Y if k else Y.unsqueeze(-1))
    lam.requires_grad_(True)
    F.requires_grad_(True)
    Y.requires_grad_(True)

    def f(F, Y, lam):
        return sl.functional.group_lasso(
            F, Y, lam, backward=mode, tol=1e-14, max_iter=100_000
        ).weights

    assert (f(F, Y, lam) == 0).any()  # a non-trivial support
    assert gradcheck(f, (F, Y, lam), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_gradcheck_cvxpy_reference():
    F, y = regression_problem(tasks=(), n=8, m=4)
    y.requires_grad_(True)
    lam = torch.tensor(0.1, dtype=torch.float64, requires_grad=True)

    def f(y, lam):
        return sl.functional.group_lasso(F, y, lam, backward="cvxpy").weights

    assert gradcheck(f, (y, lam), eps=1e-5, atol=1e-5, rtol=1e-4)


def test_modes_agree_with_each_other():
    F, y = regression_problem(tasks=(3,), n=20, m=6)
    lam = torch.tensor([0.05, 0.1, 0.2], dtype=torch.float64)
    G = torch.randn(3, 6, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    results = {}
    for mode in MODES:
        inputs = [t.clone().requires_grad_(True) for t in (F, y, lam)]
        W = sl.functional.group_lasso(*inputs, backward=mode, tol=1e-12, max_iter=100_000).weights
        (W * G).sum().backward()
        results[mode] = [W.detach()] + [t.grad for t in inputs]
    for mode in ("unroll", "cvxpy"):
        for ours, other in zip(results["implicit"], results[mode], strict=True):
            assert float((ours - other).norm() / other.norm()) < 1e-7


@pytest.mark.parametrize("seed", [0, 1])
def test_implicit_matches_finite_differences_of_sklearn(seed):
    """Directional derivatives of an independent solver, 1e-6 relative."""
    F, y = regression_problem(tasks=(), n=30, m=10, active=3, seed=seed)
    lam = 0.1 * float(GROUP_LASSO.lambda_max(F, y.unsqueeze(-1)))
    g = torch.Generator().manual_seed(seed + 10)
    G = torch.randn(10, dtype=torch.float64, generator=g)
    dF = torch.randn(30, 10, dtype=torch.float64, generator=g)
    dy = torch.randn(30, dtype=torch.float64, generator=g)
    dlam = 0.3 * lam

    Ft, yt = F.clone().requires_grad_(True), y.clone().requires_grad_(True)
    lamt = torch.tensor(lam, dtype=torch.float64, requires_grad=True)
    W = sl.functional.group_lasso(Ft, yt, lamt, tol=1e-12).weights
    (W @ G).backward()
    analytic = float((Ft.grad * dF).sum() + (yt.grad * dy).sum() + lamt.grad * dlam)

    h = 1e-4

    def loss(s):
        coef = lasso_numpy((F + s * dF).numpy(), (y + s * dy).numpy(), lam + s * dlam)
        return float(coef @ G.numpy())

    numeric = (loss(h) - loss(-h)) / (2 * h)
    assert abs(analytic - numeric) <= 1e-6 * abs(numeric)


def test_lam_gradient_matches_finite_differences():
    F, y = regression_problem(tasks=(), n=25, m=8, active=3)
    lam = torch.tensor(0.05, dtype=torch.float64, requires_grad=True)
    W = sl.functional.group_lasso(F, y, lam, relative=True, tol=1e-13).weights
    W.pow(2).sum().backward()
    lam_max = float(GROUP_LASSO.lambda_max(F, y.unsqueeze(-1)))

    def loss(value):
        return float((lasso_numpy(F.numpy(), y.numpy(), value * lam_max) ** 2).sum())

    numeric = (loss(0.05 + 1e-6) - loss(0.05 - 1e-6)) / 2e-6
    assert float(lam.grad) == pytest.approx(numeric, rel=1e-6)


def test_lasso_gradient_equals_closed_form_on_support():
    """On the support S, w_S = G_SS^{-1}(F_S^T y / n - lam sign(w_S)):
    dw_S/dy = G_SS^{-1} F_S^T / n and dw/dy = 0 off S."""
    F, y = regression_problem(tasks=(), n=30, m=8, active=3)
    yt = y.clone().requires_grad_(True)
    W = sl.functional.group_lasso(F, yt, 0.1, relative=True, tol=1e-12).weights
    S = (W != 0).nonzero().squeeze(-1)
    J = torch.autograd.functional.jacobian(
        lambda t: sl.functional.group_lasso(F, t, 0.1, relative=True, tol=1e-12).weights, y
    )
    FS = F[:, S]
    expected = torch.linalg.solve(FS.T @ FS / 30, FS.T / 30)
    torch.testing.assert_close(J[S], expected)
    assert bool((J[[j for j in range(8) if j not in S.tolist()]] == 0).all())


@pytest.mark.parametrize("mode", MODES)
def test_ridge_gradients_equal_closed_form(mode):
    F, y = regression_problem(tasks=(2,), n=10, m=4)
    lam = torch.tensor([0.3, 1.0], dtype=torch.float64)

    def closed_form(F, y, lam):
        system = F.mT @ F / 10 + lam[:, None, None] * torch.eye(4, dtype=F.dtype)
        return torch.linalg.solve(system, F.mT @ y.unsqueeze(-1) / 10)[..., 0]

    G = torch.randn(2, 4, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    grads = []
    for fn in (closed_form, lambda *a: sl.functional.ridge(*a, backward=mode, tol=1e-14).weights):
        inputs = [t.clone().requires_grad_(True) for t in (F, y, lam)]
        (fn(*inputs) * G).sum().backward()
        grads.append([t.grad for t in inputs])
    # The unrolled iterations stop on a 1e-14 objective gap, i.e. ~1e-7 in the weights.
    rtol, atol = (1e-5, 1e-6) if mode == "unroll" else (1e-7, 1e-9)
    for expected, ours in zip(*grads, strict=True):
        torch.testing.assert_close(ours, expected, rtol=rtol, atol=atol)


def test_ridge_gradcheck_wide_features():
    F, y = regression_problem(tasks=(2,), n=6, m=9)
    F.requires_grad_(True)
    lam = torch.tensor(0.2, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda F, lam: sl.functional.ridge(F, y, lam).weights, (F, lam))


def test_shared_parameter_receives_sum_of_task_gradients():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(4, 20, 5, dtype=torch.float64, generator=g)
    A = torch.randn(5, 5, dtype=torch.float64, generator=g, requires_grad=True)
    y = X[..., 0] - X[..., 2] + 0.1 * torch.randn(4, 20, dtype=torch.float64, generator=g)
    sl.functional.group_lasso(X @ A, y, 0.1, relative=True).weights.pow(2).sum().backward()
    total = A.grad.clone()
    per_task = torch.zeros_like(total)
    for t in range(4):
        A.grad = None
        sl.functional.group_lasso(X[t] @ A, y[t], 0.1, relative=True).weights.pow(
            2
        ).sum().backward()
        per_task += A.grad
    torch.testing.assert_close(total, per_task)


@pytest.mark.parametrize("mode", ["implicit", "unroll"])
def test_degenerate_cases_give_finite_gradients(mode):
    F, Y = regression_problem(tasks=(2,), n=15, m=6, k=3)
    F = F.clone()
    F[..., 4] = 0  # a zero column: its group is zero at the solution
    for lam in (0.1, 1.0, 2.0):  # sparse, exactly lambda_max, above lambda_max
        Ft, Yt = F.clone().requires_grad_(True), Y.clone().requires_grad_(True)
        lam_t = torch.tensor(lam, dtype=torch.float64, requires_grad=True)
        W = sl.functional.group_lasso(Ft, Yt, lam_t, relative=True, backward=mode).weights
        assert bool((W[..., 4] == 0).all())
        W.sum().backward()
        for grad in (Ft.grad, Yt.grad, lam_t.grad):
            assert bool(torch.isfinite(grad).all())
        if lam >= 1.0 and mode == "unroll":
            # At lam = lambda_max exactly, FISTA's first prox step compares ||step * g_j||
            # with step * lam, equal in exact arithmetic: a group may survive by an ulp.
            assert float(W.abs().max()) <= 1e-14 if lam == 1.0 else bool((W == 0).all())
        else:
            assert bool((W == 0).all()) or lam < 1.0
        if lam > 1.0:  # strictly above lambda_max the solution is locally constant
            assert bool((Ft.grad == 0).all())


def test_l21_penalty_gradient_is_zero_on_zero_column():
    W = torch.tensor([[[1.0, 0.0, 3.0], [2.0, 0.0, -4.0]]], requires_grad=True)
    value = sl.L21OuterPenalty(0.5)(W)
    torch.testing.assert_close(value, torch.tensor([0.5 * (5**0.5 + 5.0)]))
    value.sum().backward()
    assert bool(torch.isfinite(W.grad).all()) and bool((W.grad[..., 1] == 0).all())
    vector = torch.tensor([[1.0, 0.0, -2.0]], requires_grad=True)
    sl.functional.l21_norm(vector, group_dim=None).sum().backward()
    torch.testing.assert_close(vector.grad, torch.tensor([[1.0, 0.0, -1.0]]))


def test_no_grad_path_builds_no_graph():
    F, y = regression_problem()
    F.requires_grad_(True)
    with torch.no_grad():
        W = sl.functional.group_lasso(F, y, 0.1, relative=True).weights
    assert W.grad_fn is None and not W.requires_grad


def test_float32_gradients_agree_with_float64():
    F, y = regression_problem(tasks=(4,), n=40, m=10)
    grads = []
    for dtype in (torch.float64, torch.float32):
        Ft = F.to(dtype).detach().requires_grad_(True)
        sl.functional.group_lasso(Ft, y.to(dtype), 0.1, relative=True).weights.sum().backward()
        grads.append(Ft.grad.double())
    assert float((grads[0] - grads[1]).norm() / grads[0].norm()) < 1e-4
    assert np.isfinite(grads[1].numpy()).all()
