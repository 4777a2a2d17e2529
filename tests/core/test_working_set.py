"""The regression forward's pieces: active-set (Newton) iterations and the path for the Lasso,
working sets for groups, their fallbacks, and the closed-form pieces of the implicit backward,
each against an independent reference."""

import warnings

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso, MultiTaskLasso, lars_path

import sparselayers as sl
import sparselayers.solvers.homotopy as homotopy
import sparselayers.solvers.lasso as lasso
import sparselayers.solvers.working_set as working_set
from sparselayers.ops.support_solve import solve_masked
from sparselayers.problems import GROUP_LASSO
from sparselayers.solvers.active_set import lasso_active_set
from sparselayers.solvers.homotopy import lasso_path
from tests.core.conftest import regression_problem


def sklearn_lasso(F, Y, lam):
    """Per-task scikit-learn solutions ``(T, k, m)`` at a tight tolerance."""
    out = []
    for t in range(F.shape[0]):
        y = Y[t].numpy()
        model = Lasso if y.ndim == 1 else MultiTaskLasso
        fit = model(alpha=float(lam[t]), fit_intercept=False, tol=1e-14, max_iter=10**6)
        out.append(fit.fit(F[t].numpy(), y).coef_.reshape(-1, F.shape[-1]))
    return torch.from_numpy(np.stack(out))


def relative_error(a, b):
    return float((a - b).norm() / b.norm().clamp_min(1e-30))


def test_active_set_iterations_solve_well_posed_lasso():
    F, y = regression_problem(tasks=(6,), n=40, m=12, active=4, seed=3)
    lam = 0.1 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    b, solved, n_iter = lasso_active_set(F, y, lam, torch.zeros(6, 12, dtype=F.dtype), 20, 12)
    assert bool(solved.all())
    assert int(n_iter.max()) <= 10  # a handful of Newton steps, not hundreds of iterations
    assert relative_error(b, sklearn_lasso(F, y, lam)[:, 0]) <= 1e-10
    # Exact zeros off the active set.
    assert bool((b == 0).any())


def test_active_set_iterations_report_what_they_cannot_solve():
    F, y = regression_problem(tasks=(3,), n=40, m=12, active=4, seed=4)
    lam = 0.1 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    start = torch.zeros(3, 12, dtype=F.dtype)
    # No guess may have an active feature: nothing is solved, the start comes back.
    b, solved, _ = lasso_active_set(F, y, lam, start, 20, max_active=0)
    assert not bool(solved.any())
    torch.testing.assert_close(b, start)
    # lam >= lam_max: the empty guess at b = 0 is the solution, found without a solve.
    lam_big = 2 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    b, solved, n_iter = lasso_active_set(F, y, lam_big, start, 20, max_active=12)
    assert bool(solved.all()) and int(n_iter.max()) == 0 and bool((b == 0).all())


def test_active_set_iterations_settle_with_many_more_features_than_samples():
    # m >> n and a small lam (supports near n): the guesses are limited to what a support
    # can hold, and the tasks they settle match scikit-learn; the others are reported.
    F, y = regression_problem(tasks=(4,), n=30, m=200, active=20, seed=13)
    lam = 0.05 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    start = torch.zeros(4, 200, dtype=F.dtype)
    b, solved, n_iter = lasso_active_set(F, y, lam, start, 30, max_active=29)
    assert bool(solved.any())
    assert int((b[solved] != 0).sum(-1).max()) <= 29
    reference = sklearn_lasso(F[solved], y[solved], lam[solved])[:, 0]
    assert relative_error(b[solved], reference) <= 1e-8
    torch.testing.assert_close(b[~solved], start[~solved])


@pytest.mark.parametrize("seed", [3, 4])
def test_path_matches_sklearn_lars_and_lasso(seed):
    # Features leave the path on these problems (seed 3: 3 and 4 leave on tasks 0 and 2).
    F, y = regression_problem(tasks=(4,), n=30, m=60, active=8, seed=seed)
    lam = 0.02 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    b, ok, steps = lasso_path(F, y, lam)
    assert bool(ok.all())
    assert relative_error(b, sklearn_lasso(F, y, lam)[:, 0]) <= 1e-10
    for t in range(4):
        alphas, _, coefs = lars_path(
            F[t].numpy(), y[t].numpy(), method="lasso", alpha_min=float(lam[t])
        )
        # Its knots: lam_max, one per event, lam.
        assert int(steps[t]) == len(alphas) - 2
        np.testing.assert_allclose(b[t].numpy(), coefs[:, -1], rtol=1e-10, atol=1e-12)
    drops = (steps + 1 - (b != 0).sum(-1)) // 2  # every event is one join or one leave
    assert int(drops.sum()) > 0


def test_path_keeps_one_of_twin_features_and_reports_running_out_of_steps():
    F, y = regression_problem(tasks=(2,), n=30, m=5, active=2, seed=11)
    F = torch.cat([F, F[..., :1]], -1)  # column 5 duplicates column 0
    Y = y.unsqueeze(-1)
    lam = 0.01 * GROUP_LASSO.lambda_max(F, Y)
    b, ok, steps = lasso_path(F, y, lam)
    # The twin's correlation moves with column 0's: it never joins, and the end point (one
    # of the many solutions) is certified.
    assert bool(ok.all()) and bool((b[:, 5] == 0).all())
    assert float(GROUP_LASSO.relative_gap(b.unsqueeze(-1), F, Y, lam).max()) <= 1e-12
    # Out of steps: reported, not passed off as the end point.
    _, ok, _ = lasso_path(F, y, lam, max_steps=int(steps.min()) - 1)
    assert not bool(ok.any())


def test_path_at_and_above_lam_max_is_zero():
    F, y = regression_problem(tasks=(3,), n=20, m=10, seed=14)
    lam = GROUP_LASSO.lambda_max(F, y.unsqueeze(-1)) * torch.tensor([1.0, 1.5, 0.5], dtype=F.dtype)
    b, ok, steps = lasso_path(F, y, lam)
    assert bool(ok.all()) and bool((b[:2] == 0).all()) and bool((b[2] != 0).any())
    assert steps.tolist()[:2] == [0, 0]


@pytest.mark.parametrize("k", [None, 2])
def test_working_sets_over_many_rounds_match_sklearn(k):
    # m >> n: the working set starts at 16 groups and has to grow several times.
    F, Y = regression_problem(tasks=(5,), n=40, m=300, k=k, active=12, seed=5)
    Yk = Y.unsqueeze(-1) if k is None else Y
    lam = 0.05 * GROUP_LASSO.lambda_max(F, Yk)
    sol = sl.functional.group_lasso(F, Y, lam, tol=1e-12)
    assert bool(sol.converged.all())
    ours = sol.weights if k is not None else sol.weights.unsqueeze(-2)
    assert relative_error(ours, sklearn_lasso(F, Y, lam)) <= 1e-6


def test_fallback_to_proximal_gradient_gives_the_same_solution(monkeypatch):
    F, y = regression_problem(tasks=(4,), n=30, m=80, active=6, seed=6)
    lam = 0.1 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    reference = sklearn_lasso(F, y, lam)[:, 0]
    # No active-set iteration at all: every task follows the path.
    monkeypatch.setattr(lasso, "ACTIVE_SET_ITERATIONS", 0)
    sol = sl.functional.group_lasso(F, y, lam, tol=1e-12)
    assert bool(sol.converged.all())
    assert relative_error(sol.weights, reference) <= 1e-6
    # And a path that never arrives: proximal gradient on all features.
    monkeypatch.setattr(homotopy, "MAX_STEPS_PER_FEATURE", 0)
    sol = sl.functional.group_lasso(F, y, lam, tol=1e-12)
    assert bool(sol.converged.all())
    assert relative_error(sol.weights, reference) <= 1e-6
    # Working sets of groups that never cover the problem: after MAX_ROUNDS, all at once.
    F2, Y2 = regression_problem(tasks=(3,), n=30, m=80, k=2, active=6, seed=6)
    lam2 = 0.1 * GROUP_LASSO.lambda_max(F2, Y2)
    reference2 = sklearn_lasso(F2, Y2, lam2)
    monkeypatch.setattr(working_set, "MAX_ROUNDS", 0)
    sol = sl.functional.group_lasso(F2, Y2, lam2, tol=1e-12)
    assert bool(sol.converged.all())
    assert relative_error(sol.weights, reference2) <= 1e-6


def test_float32_near_square_working_sets_are_certified():
    # The benchmark's hard regime: supports of 30-45 of n = 50 samples, float32.
    F, y = regression_problem(
        tasks=(8,), n=50, m=256, active=32, seed=7, dtype=torch.float32, noise=0.5
    )
    sol = sl.functional.group_lasso(F, y, 0.1, relative=True, tol=1e-6)
    assert bool(sol.converged.all())
    F64, y64 = F.double(), y.double()
    lam = 0.1 * GROUP_LASSO.lambda_max(F64, y64.unsqueeze(-1))
    # The certificate, recomputed in float64 from the float32 solution.
    gap = GROUP_LASSO.relative_gap(sol.weights.double().unsqueeze(-1), F64, y64.unsqueeze(-1), lam)
    assert float(gap.max()) <= 1e-5
    assert relative_error(sol.weights.double(), sklearn_lasso(F64, y64, lam)[:, 0]) <= 1e-2


@pytest.mark.parametrize("k", [1, 3])
def test_closed_form_stationarity_vjp_equals_autodiff(k):
    F, Y = regression_problem(tasks=(3,), n=15, m=7, k=k, active=3, seed=8)
    lam = 0.2 * GROUP_LASSO.lambda_max(F, Y)
    B = sl.functional.group_lasso(F, Y, lam, tol=1e-12).weights.mT
    u = torch.randn(B.shape, dtype=B.dtype, generator=torch.Generator().manual_seed(0))
    _, pullback = torch.func.vjp(lambda *p: GROUP_LASSO.stationarity(B, *p), F, Y, lam)
    for ours, reference in zip(
        GROUP_LASSO.stationarity_vjp(B, F, Y, lam, u), pullback(u), strict=True
    ):
        torch.testing.assert_close(ours, reference, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_support_system_equals_the_full_size_system(k):
    F, Y = regression_problem(tasks=(4,), n=20, m=30, k=k, active=4, seed=9)
    lam = 0.15 * GROUP_LASSO.lambda_max(F, Y)
    B = sl.functional.group_lasso(F, Y, lam, tol=1e-12).weights.mT
    assert bool((B == 0).any())  # a real support, smaller than m
    v = GROUP_LASSO.project(B, torch.randn(B.shape, dtype=B.dtype))
    flat = (*B.shape[:-2], -1)
    A = GROUP_LASSO.reduced_hessian(B, F, Y, lam)
    full = solve_masked(A, GROUP_LASSO.active(B).reshape(flat), v.reshape(flat))
    compact = GROUP_LASSO.solve_support(B, v, F, Y, lam)
    torch.testing.assert_close(compact, full.reshape(B.shape), rtol=1e-10, atol=1e-12)


def test_empty_batch():
    F, y = torch.randn(0, 10, 5, dtype=torch.float64), torch.randn(0, 10, dtype=torch.float64)
    sol = sl.functional.group_lasso(F, y, 0.1)
    assert sol.weights.shape == (0, 5) and sol.converged.shape == (0,)


def test_gathered_solve_falls_back_to_minimum_norm_on_singular_blocks():
    A = torch.tensor(
        [[[1.0, 1.0, 0.0], [1.0, 1.0, 0.0], [0.0, 0.0, 1.0]], [[2.0, 0, 0], [0, 1, 0], [0, 0, 1]]],
        dtype=torch.float64,
    )
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 1.0, 0.0]], dtype=torch.float64)
    v = torch.tensor([[2.0, 2.0, 5.0], [2.0, 3.0, 5.0]], dtype=torch.float64)
    z = solve_masked(A, mask, v)
    # Task 0: a singular active block, minimum-norm solution; task 1: the plain solve.
    torch.testing.assert_close(
        z, torch.tensor([[1.0, 1.0, 0.0], [1.0, 3.0, 0.0]], dtype=torch.float64)
    )


def test_duplicated_feature_gives_finite_gradients():
    F, y = regression_problem(tasks=(2,), n=30, m=5, active=2, seed=11)
    F = torch.cat([F, F[..., :1]], -1).requires_grad_(True)  # column 5 duplicates column 0
    sol = sl.functional.group_lasso(F, y, 0.05, relative=True, tol=1e-10)
    assert bool(sol.converged.all())
    sol.weights.sum().backward()
    assert bool(torch.isfinite(F.grad).all())


@pytest.mark.parametrize("max_iter", [1, 3, 12, 40])
def test_lasso_n_iter_stays_within_max_iter(max_iter):
    # Dense tasks (m >> n, small lam): active-set iterations, path steps and proximal-gradient
    # iterations all count against the one budget.
    F, y = regression_problem(tasks=(3,), n=20, m=120, active=10, seed=15)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        sol = sl.functional.group_lasso(F, y, 0.02, relative=True, tol=1e-12, max_iter=max_iter)
    assert int(sol.n_iter.max()) <= max_iter
    assert bool(sol.converged.all()) == (max_iter == 40)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("correlation", [0.0, 0.9])
def test_dense_supports_with_many_features_converge(dtype, correlation):
    # m >> n at a small lam: supports near n. The previous forward (active-set iterations on
    # working sets, then proximal gradient) took 1,400-5,100 iterations on these tasks; the
    # path takes 32-63 steps after one active-set iteration.
    n, m = 30, 1000
    g = torch.Generator().manual_seed(16)
    F = torch.randn(3, n, m, generator=g, dtype=torch.float64)
    if correlation:
        i = torch.arange(m, dtype=torch.float64)
        F = F @ torch.linalg.cholesky(correlation ** (i[:, None] - i[None, :]).abs()).T
    w = torch.zeros(3, m, dtype=torch.float64)
    w[:, :100] = torch.randn(3, 100, generator=g, dtype=torch.float64) + 1
    y = (F @ w.unsqueeze(-1)).squeeze(-1) + 0.3 * torch.randn(3, n, generator=g, dtype=F.dtype)
    tol = 1e-10 if dtype == torch.float64 else 1e-6
    sol = sl.functional.group_lasso(F.to(dtype), y.to(dtype), 0.01, relative=True, tol=tol)
    assert bool(sol.converged.all()) and int(sol.n_iter.max()) <= 200
    lam = 0.01 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    gap = GROUP_LASSO.relative_gap(sol.weights.double().unsqueeze(-1), F, y.unsqueeze(-1), lam)
    assert float(gap.max()) <= (1e-10 if dtype == torch.float64 else 1e-5)


def test_many_more_features_than_samples_take_the_path_first():
    # m >= 8 n (lasso.PATH_FIRST): no active-set iterations, the path's events are the count.
    F, y = regression_problem(tasks=(3,), n=20, m=200, active=10, seed=21)
    lam = 0.1 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    sol = sl.functional.group_lasso(F, y, lam, tol=1e-10)
    b, ok, steps = lasso_path(F, y, lam)
    assert bool(ok.all()) and bool(sol.converged.all())
    assert sol.n_iter.tolist() == steps.tolist()
    assert relative_error(sol.weights, sklearn_lasso(F, y, lam)[:, 0]) <= 1e-10
