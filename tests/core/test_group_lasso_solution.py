"""The forward solver against scikit-learn, on random problems (including m > n)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso, MultiTaskLasso

import sparselayers as sl
from sparselayers.problems import GROUP_LASSO
from sparselayers.solvers.apg import solve_apg
from sparselayers.solvers.options import SolverOptions
from tests.core.conftest import regression_problem


def sklearn_weights(F, Y, lam):
    F, Y = F.numpy(), Y.numpy()
    if Y.ndim == 1:
        model = Lasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000)
    else:
        model = MultiTaskLasso(alpha=lam, fit_intercept=False, tol=1e-14, max_iter=1_000_000)
    return model.fit(F, Y).coef_


@pytest.mark.parametrize("n,m", [(30, 8), (20, 40), (50, 100)])
@pytest.mark.parametrize("k", [None, 3])
@pytest.mark.parametrize("fraction", [0.05, 0.3])
def test_matches_sklearn(n, m, k, fraction):
    F, Y = regression_problem(tasks=(4,), n=n, m=m, k=k, seed=n + m)
    Yk = Y if k is not None else Y.unsqueeze(-1)
    lam = fraction * GROUP_LASSO.lambda_max(F, Yk)
    sol = sl.functional.group_lasso(F, Y, lam, tol=1e-12)
    assert bool(sol.converged.all())
    for t in range(4):
        reference = sklearn_weights(F[t], Y[t], float(lam[t]))
        ours = sol.weights[t].numpy()
        assert np.linalg.norm(ours - reference) <= 1e-6 * np.linalg.norm(reference)


def test_relative_lambda_and_exact_zeros():
    F, y = regression_problem(tasks=(5,), n=40, m=10, active=3)
    sol = sl.functional.group_lasso(F, y, 0.2, relative=True, tol=1e-12)
    lam = 0.2 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    absolute = sl.functional.group_lasso(F, y, lam, tol=1e-12)
    torch.testing.assert_close(sol.weights, absolute.weights)
    assert bool((sol.weights == 0).any())  # exact zeros, not 1e-12
    # Lasso optimality certificate checked independently: |F_j^T r|/n <= lam, = lam on support.
    r = y - (F @ sol.weights.unsqueeze(-1))[..., 0]
    corr = (F.mT @ r.unsqueeze(-1))[..., 0] / F.shape[-2]
    assert bool((corr.abs() <= lam.unsqueeze(-1) * (1 + 1e-9)).all())
    on = sol.weights != 0
    torch.testing.assert_close(corr[on], (lam.unsqueeze(-1) * sol.weights.sign())[on])


def test_lambda_above_max_gives_zero():
    F, y = regression_problem()
    for lam in (1.0, 3.0):
        sol = sl.functional.group_lasso(F, y, lam, relative=True)
        assert bool((sol.weights == 0).all())
        assert bool(sol.converged.all()) and int(sol.n_iter.max()) == 0


def test_lambda_zero_is_least_squares():
    F, y = regression_problem(n=30, m=5)
    sol = sl.functional.group_lasso(F, y, 0.0, tol=1e-12)
    expected = torch.linalg.lstsq(F, y.unsqueeze(-1)).solution[..., 0]
    torch.testing.assert_close(sol.weights, expected, rtol=1e-8, atol=1e-10)
    assert bool(sol.converged.all())


def test_gap_decreases_to_tolerance_and_certifies():
    F, y = regression_problem(tasks=(6,), n=25, m=30)
    loose = sl.functional.group_lasso(F, y, 0.05, relative=True, tol=1e-3)
    tight = sl.functional.group_lasso(F, y, 0.05, relative=True, tol=1e-12)
    assert bool((loose.gap <= 1e-3).all()) and bool((tight.gap <= 1e-12).all())
    # The relative gap bounds the relative suboptimality.
    Y = y.unsqueeze(-1)
    lam = 0.05 * GROUP_LASSO.lambda_max(F, Y)
    P_loose = GROUP_LASSO.objective(loose.weights.unsqueeze(-1), F, Y, lam)
    P_tight = GROUP_LASSO.objective(tight.weights.unsqueeze(-1), F, Y, lam)
    scale = (Y * Y).sum((-2, -1)) / (2 * F.shape[-2])
    assert bool(((P_loose - P_tight) / scale <= loose.gap + 1e-12).all())


def test_perturbing_the_solution_never_lowers_the_objective():
    F, Y = regression_problem(tasks=(2,), n=20, m=8, k=2)
    sol = sl.functional.group_lasso(F, Y, 0.1, relative=True, tol=1e-12)
    lam = 0.1 * GROUP_LASSO.lambda_max(F, Y)
    B = sol.weights.mT
    best = GROUP_LASSO.objective(B, F, Y, lam)
    g = torch.Generator().manual_seed(1)
    for _ in range(20):
        other = B + 1e-3 * torch.randn(B.shape, generator=g, dtype=B.dtype)
        assert bool((GROUP_LASSO.objective(other, F, Y, lam) >= best - 1e-12).all())


def test_warm_start_from_solution_stops_at_once():
    F, y = regression_problem(tasks=(4,), n=30, m=12)
    cold = sl.functional.group_lasso(F, y, 0.1, relative=True, tol=1e-10)
    warm = sl.functional.group_lasso(F, y, 0.1, relative=True, tol=1e-10, warm_start=cold.weights)
    assert int(warm.n_iter.max()) == 0
    torch.testing.assert_close(warm.weights, cold.weights)


@pytest.mark.parametrize("tasks", [(), (5,), (2, 3)])
def test_batch_shapes_equal_per_task_solves(tasks):
    F, y = regression_problem(tasks=tasks, n=15, m=7)
    sol = sl.functional.group_lasso(F, y, 0.1, relative=True, tol=1e-12)
    assert sol.weights.shape == (*tasks, 7) and sol.gap.shape == tasks
    flat_F, flat_y = F.reshape(-1, 15, 7), y.reshape(-1, 15)
    for t in range(flat_F.shape[0]):
        single = sl.functional.group_lasso(flat_F[t], flat_y[t], 0.1, relative=True, tol=1e-12)
        torch.testing.assert_close(sol.weights.reshape(-1, 7)[t], single.weights)


def test_broadcast_of_shared_features():
    F, Y = regression_problem(tasks=(1,), n=20, m=6, k=2)
    targets = torch.cat([Y, 2 * Y])
    sol = sl.functional.group_lasso(F, targets, 0.1, tol=1e-12)
    assert sol.weights.shape == (2, 2, 6)


def test_float32_agrees_with_float64():
    F, y = regression_problem(tasks=(8,), n=50, m=20)
    sol64 = sl.functional.group_lasso(F, y, 0.1, relative=True, tol=1e-12)
    sol32 = sl.functional.group_lasso(F.float(), y.float(), 0.1, relative=True)
    assert sol32.weights.dtype == torch.float32 and bool(sol32.converged.all())
    torch.testing.assert_close(sol32.weights.double(), sol64.weights, rtol=1e-4, atol=1e-5)


def test_non_convergence_warns_with_gap():
    F, y = regression_problem(tasks=(3,), n=20, m=40)
    with pytest.warns(RuntimeWarning, match="relative duality gap reached"):
        sol = sl.functional.group_lasso(F, y, 0.01, relative=True, tol=1e-14, max_iter=3)
    assert not bool(sol.converged.all())


def test_no_cycle_between_fista_and_the_support_polish():
    """Regression: a task (float32, standardized learned features) on which accepting Newton
    candidates that merely improved the gap made FISTA and the polish cycle at gap 0.13."""
    case = torch.load(Path(__file__).parent / "data" / "cycling_lasso.pt")
    F, y = case["features"], case["targets"]
    sol = sl.functional.group_lasso(F, y, case["lam"], relative=True)
    assert bool(sol.converged)
    lam = case["lam"] * float(GROUP_LASSO.lambda_max(F.double(), y.double()[:, None]))
    reference = sklearn_weights(F.double(), y.double(), lam)
    assert np.linalg.norm(sol.weights.double().numpy() - reference) < 1e-4 * np.linalg.norm(
        reference
    )
    # The proximal-gradient path itself (the working sets' fallback) on the same task.
    lam_t = torch.tensor(lam, dtype=F.dtype)
    _, gap, _, done = solve_apg(GROUP_LASSO, (F, y[:, None], lam_t), SolverOptions())
    assert bool(done) and float(gap) <= 1e-6
