"""The Lasso's active-set iterations, gathered (``solvers/active_set.py``) and on the Gram matrix
(``solvers/gram_active_set.py``): solutions against scikit-learn, the sign rule that lets them
settle on correlated designs, what they report when they cannot, and the small systems of the
backward solved whole against the gathered ones."""

import numpy as np
import pytest
import torch
from sklearn.linear_model import Lasso

import sparselayers as sl
import sparselayers.ops.support_solve as support_solve
from sparselayers.problems import GROUP_LASSO
from sparselayers.solvers.active_set import lasso_active_set
from sparselayers.solvers.gram_active_set import lasso_gram_active_set


def correlated_problem(T: int, n: int, m: int, rho: float, active: int, seed: int):
    """Tasks whose features are ``N(0, Σ)`` rows, ``Σ_ij = ρ^|i-j|`` (float64), targets from
    ``active`` features at random positions, and ``lam = 0.1 lam_max``."""
    g = torch.Generator().manual_seed(seed)
    index = torch.arange(m, dtype=torch.float64)
    factor = torch.linalg.cholesky(rho ** (index[:, None] - index[None, :]).abs())
    F = torch.randn(T, n, m, generator=g, dtype=torch.float64) @ factor.mT
    W = torch.zeros(T, m, dtype=torch.float64)
    for t in range(T):
        W[t, torch.randperm(m, generator=g)[:active]] = 1 + torch.rand(active, generator=g).double()
    y = (F @ W.unsqueeze(-1)).squeeze(-1) + 0.1 * torch.randn(T, n, generator=g).double()
    lam = 0.1 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    return F, y, lam


def sklearn_lasso(F, y, lam):
    coefs = [
        Lasso(alpha=float(lam[t]), fit_intercept=False, tol=1e-14, max_iter=10**6)
        .fit(F[t].numpy(), y[t].numpy())
        .coef_
        for t in range(F.shape[0])
    ]
    return torch.from_numpy(np.stack(coefs))


@pytest.mark.parametrize("rho", [0.0, 0.9])
@pytest.mark.parametrize("m", [6, 16])
def test_gram_iterations_match_sklearn(m, rho):
    F, y, lam = correlated_problem(32, 50, m, rho, active=max(1, m // 3), seed=m)
    b, solved, n_iter = lasso_gram_active_set(F, y, lam, torch.zeros(32, m, dtype=F.dtype), 8)
    assert bool(solved.all())
    assert int(n_iter.max()) <= 8 and int(n_iter.min()) >= 1
    torch.testing.assert_close(b, sklearn_lasso(F, y, lam), rtol=0, atol=1e-10)
    assert bool((b == 0).any())  # exact zeros


@pytest.mark.parametrize("iterations", ["gram", "gathered"])
def test_sign_rule_lets_correlated_designs_settle(iterations):
    # Toeplitz 0.9: the plain fixed point flips the signs of most features back and forth
    # (without the rule 24 of these 64 tasks did not settle on the Gram matrix at m = 16, and
    # all 64 gathered at m = 64); with the rule every task settles.
    m = 16 if iterations == "gram" else 64
    F, y, lam = correlated_problem(64, 50, m, 0.9, active=m // 4, seed=21)
    start = torch.zeros(64, m, dtype=F.dtype)
    if iterations == "gram":
        b, solved, _ = lasso_gram_active_set(F, y, lam, start, 8)
    else:
        b, solved, _ = lasso_active_set(F, y, lam, start, 20, max_active=m - 1)
    assert bool(solved.all())
    gap = GROUP_LASSO.relative_gap(b.unsqueeze(-1), F, y.unsqueeze(-1), lam)
    assert float(gap.max()) <= 1e-12


def test_gram_iterations_on_twin_features_report_only_solutions():
    # Columns 0 and 1 are twins and carry the signal: they violate together, and a guess
    # holding both is singular (its Cholesky fails, or passes on a rounding-level pivot and
    # gives one of the many solutions that split the weight between the twins).
    g = torch.Generator().manual_seed(3)
    F = torch.randn(8, 30, 4, generator=g, dtype=torch.float64)
    F[..., 1] = F[..., 0]
    y = 2 * F[..., 0] + 0.1 * torch.randn(8, 30, generator=g, dtype=torch.float64)
    lam = 0.1 * GROUP_LASSO.lambda_max(F, y.unsqueeze(-1))
    b, solved, n_iter = lasso_gram_active_set(F, y, lam, torch.zeros(8, 4, dtype=F.dtype), 6)
    assert not bool(solved.all()) and bool((n_iter[~solved] == 6).all())
    gap = GROUP_LASSO.relative_gap(b.unsqueeze(-1), F, y.unsqueeze(-1), lam)
    assert float(gap[solved].max()) <= 1e-10 if bool(solved.any()) else True
    # The whole forward hands the others on and certifies every task.
    sol = sl.functional.group_lasso(F, y, lam, tol=1e-10)
    assert bool(sol.converged.all())


def test_gram_iterations_from_a_solution_take_one_solve():
    F, y, lam = correlated_problem(8, 40, 10, 0.5, active=3, seed=5)
    b, solved, _ = lasso_gram_active_set(F, y, lam, torch.zeros(8, 10, dtype=F.dtype), 8)
    again, solved_again, n_iter = lasso_gram_active_set(F, y, lam, b, 8)
    assert bool(solved.all()) and bool(solved_again.all()) and bool((n_iter == 1).all())
    torch.testing.assert_close(again, b, rtol=0, atol=1e-12)


@pytest.mark.parametrize("m", [6, 16])
def test_small_backward_systems_solved_whole_match_the_gathered_ones(m, monkeypatch):
    F, y, lam = correlated_problem(16, 40, m, 0.5, active=m // 3, seed=m + 1)
    F.requires_grad_(True)
    y.requires_grad_(True)
    v = torch.randn(16, m, generator=torch.Generator().manual_seed(0), dtype=F.dtype)

    def vjp():
        sol = sl.functional.group_lasso(F, y, lam, tol=1e-12)
        return torch.autograd.grad(sol.weights, (F, y), v)

    whole = vjp()
    monkeypatch.setattr(support_solve, "GATHER_ABOVE", 0)
    monkeypatch.setattr(sl.problems.group_lasso, "GATHER_ABOVE", 0)
    gathered = vjp()
    for a, b in zip(whole, gathered, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_rows_of_some_tasks_are_taken_without_copying_the_others():
    """``take_rows(X, order, tasks)``, what the iterations gather their guesses with once some
    tasks have left: the rows of those tasks, as from ``X[tasks]``."""
    from sparselayers.ops.gather import take_rows

    g = torch.Generator().manual_seed(0)
    X = torch.randn(5, 7, 3, generator=g)
    tasks = torch.tensor([4, 1, 2])
    order = torch.randint(0, 7, (3, 4), generator=g)
    torch.testing.assert_close(
        take_rows(X, order, tasks), take_rows(X[tasks], order), rtol=0, atol=0
    )
    expected = torch.stack([X[t][o] for t, o in zip(tasks.tolist(), order, strict=True)])
    torch.testing.assert_close(take_rows(X, order, tasks), expected, rtol=0, atol=0)
