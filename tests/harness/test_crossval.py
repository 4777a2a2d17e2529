import numpy as np
import pytest
import torch

from harness.crossval import cross_validate, kfold_indices


def test_kfold_indices_partition():
    train, validation = kfold_indices(27, 5)  # 5 does not divide 27
    assert validation.shape == (5, 5) and train.shape == (5, 22)
    assert torch.equal(validation.reshape(-1), torch.arange(25))
    for k in range(5):
        together = torch.cat([train[k], validation[k]]).sort().values
        assert torch.equal(together, torch.arange(27))
    with pytest.raises(ValueError, match="n_folds"):
        kfold_indices(10, 1)
    with pytest.raises(ValueError, match="n_samples"):
        kfold_indices(3, 5)


def _closed_form_ridge(F, y, lam):
    """(FᵀF/n + λI)⁻¹ Fᵀy/n — a test double of the sparselayers ridge layer."""
    n, m = F.shape[-2:]
    gram = F.mT @ F / n + lam[..., None, None] * torch.eye(m, dtype=F.dtype)
    w = torch.linalg.solve(gram, (F.mT @ y.unsqueeze(-1)).squeeze(-1) / n)
    return w, torch.ones(w.shape[:-1], dtype=torch.bool)


def test_cross_validate_matches_a_loop():
    g = torch.Generator().manual_seed(0)
    F = torch.randn(3, 20, 8, dtype=torch.float64, generator=g)
    y = F[..., 0] + 0.5 * torch.randn(3, 20, dtype=torch.float64, generator=g)
    grid = torch.logspace(1, -3, 9, dtype=torch.float64)
    out = cross_validate(_closed_form_ridge, F, y, grid, n_folds=4)
    assert out.weights.shape == (3, 8) and out.cv_mse.shape == (3, 9)
    for task in range(3):
        mse = np.zeros(9)
        for k in range(4):
            val = torch.arange(5 * k, 5 * k + 5)
            train = torch.tensor([i for i in range(20) if i not in val.tolist()])
            for j, lam in enumerate(grid):
                w, _ = _closed_form_ridge(F[task, train], y[task, train], lam)
                mse[j] += ((F[task, val] @ w - y[task, val]) ** 2).mean().item() / 4
        np.testing.assert_allclose(out.cv_mse[task].numpy(), mse, rtol=1e-10)
        assert out.lam[task] == grid[int(np.argmin(mse))]
        w, _ = _closed_form_ridge(F[task], y[task], out.lam[task])
        assert torch.allclose(out.weights[task], w)


def test_sparselayers_lasso_cv_matches_scikit_learn():
    sl = pytest.importorskip("sparselayers")
    from sklearn.linear_model import LassoCV
    from sklearn.model_selection import KFold

    rng = np.random.default_rng(0)
    F = rng.standard_normal((25, 40))
    y = F[:, :3] @ np.array([1.0, -2.0, 1.5]) + 0.1 * rng.standard_normal(25)
    lam_max = np.abs(F.T @ y).max() / 25
    grid = lam_max * np.logspace(0, -2, 8)

    def fit(features, targets, lam):
        sol = sl.functional.group_lasso(features, targets, lam, tol=1e-10)
        return sol.weights, sol.converged

    with torch.no_grad():
        out = cross_validate(fit, torch.from_numpy(F), torch.from_numpy(y), torch.from_numpy(grid))
    reference = LassoCV(alphas=grid, cv=KFold(5), fit_intercept=False, tol=1e-12, max_iter=100_000)
    reference.fit(F, y)
    # scikit-learn sorts the grid in decreasing order, as it is here.
    np.testing.assert_allclose(out.cv_mse.numpy(), reference.mse_path_.mean(1), rtol=1e-5)
    assert out.lam.item() == pytest.approx(reference.alpha_)
    np.testing.assert_allclose(out.weights.numpy(), reference.coef_, atol=1e-6)
