import json

import numpy as np
import pytest
import torch

from harness.cli import build_parser, main
from harness.config import config_overrides, config_to_dict
from harness.section2.config import METHODS, StudyConfig, protocol
from harness.section2.figures import summary_table
from harness.section2.study import lambda_grids, run_study, simulate

pytest.importorskip("sparselayers")


def test_simulation_follows_appendix_d1():
    config = StudyConfig(seeds=1, train_sizes=(25, 50), n_test=300)
    data = simulate(config, seed=0)
    assert data.train_features.shape == (2, 50, 100) and data.test_features.shape == (2, 300, 100)
    assert data.train_targets.shape == (3, 50) and data.weights.shape == (3, 100)
    assert (data.weights != 0).sum(1).tolist() == [5, 20, 80]
    # Entangled features are an orthogonal mixing of the disentangled ones.
    z, mixed = torch.cat([data.train_features, data.test_features], dim=1)  # 350 > m rows
    mixing = torch.linalg.lstsq(z, mixed).solution
    assert torch.allclose(mixing.T @ mixing, torch.eye(100, dtype=torch.float64), atol=1e-8)
    residual = data.train_targets - data.weights @ data.train_features[0].T
    assert residual.var().item() == pytest.approx(0.04, rel=0.3)
    grids = lambda_grids(config, data.train_features, data.train_targets[:1])
    assert grids["Lasso"].shape == (2, 12) and grids["Ridge"].shape == (2, 30)


def test_smoke_run_writes_results_and_figure(tmp_path, capsys):
    out = tmp_path / "sg"
    argv = [
        "sparse-generalization", "--out", str(out), "--seeds", "2", "--train-sizes", "25", "50",
        "--sparsities", "0.05", "--n-test", "200", "--lasso-lambdas", "5", "--cv-tol", "1e-4",
        "--tol", "1e-4", "--max-iter", "5000", "--workers", "1", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "sparse-generalization"
    assert results["config"] == {"protocol": "published"} | config_to_dict(
        StudyConfig(
            seeds=2, train_sizes=(25, 50), sparsities=(0.05,), n_test=200, lasso_lambdas=5,
            cv_tol=1e-4, tol=1e-4, max_iter=5000,
        )
    )  # fmt: skip
    rows = results["rows"]
    assert {r["method"] for r in rows} == set(METHODS) and len(rows) == 4 * 2
    for row in rows:
        assert {"method", "sparsity", "n_samples", "r2_mean", "r2_sem"} <= row.keys()
        assert len(row["r2_per_seed"]) == 2
    by_key = {(r["method"], r["n_samples"]): r["r2_mean"] for r in rows}
    for n in (25, 50):
        # The ridge is invariant to an orthogonal change of features.
        assert by_key[("Disentangled-Ridge", n)] == pytest.approx(
            by_key[("Entangled-Ridge", n)], abs=1e-6
        )
    assert by_key[("Disentangled-Lasso", 25)] > 0.5
    assert by_key[("Disentangled-Lasso", 25)] > by_key[("Entangled-Lasso", 25)]
    assert (out / "figure1.png").is_file()
    assert "Disentangled-Lasso" in summary_table(rows)
    (out / "figure1.png").unlink()
    assert main(["plot", str(out / "results.json")]) == 0
    assert (out / "figure1.png").is_file()


def test_flags_map_onto_the_config():
    argv = ["sparse-generalization", "--seeds", "3", "--train-sizes", "25", "50"]
    argv += ["--feature-correlation", "0", "--ridge-ratio-range", "1", "1e-3", "--workers", "1"]
    args = build_parser().parse_args(argv)
    assert StudyConfig(**config_overrides(args, StudyConfig)) == StudyConfig(
        seeds=3, train_sizes=(25, 50), feature_correlation=0.0, ridge_ratio_range=(1.0, 1e-3)
    )
    assert args.workers == 1 and not hasattr(args, "dtype")  # a flag not given keeps the default
    with pytest.raises(SystemExit):  # (largest, smallest): exactly two values
        build_parser().parse_args(["sparse-generalization", "--ridge-ratio-range", "1"])


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="sparsities"):
        StudyConfig(sparsities=(0.0,))
    with pytest.raises(ValueError, match="train_sizes"):
        StudyConfig(train_sizes=(3,))
    with pytest.raises(ValueError, match="dtype"):
        StudyConfig(dtype="float16")
    with pytest.raises(ValueError, match="ridge_ratio_range"):
        StudyConfig(ridge_ratio_range=(1e-7, 10.0))
    with pytest.raises(ValueError, match="weight_scale"):
        StudyConfig(weight_scale="unit")
    with pytest.raises(ValueError, match="cv_rule"):
        StudyConfig(cv_rule="1se")


def test_worker_processes_give_the_same_results():
    config = StudyConfig(
        seeds=2,
        train_sizes=(25,),
        sparsities=(0.05,),
        n_test=100,
        lasso_lambdas=4,
        cv_tol=1e-4,
        max_iter=5000,
    )
    inline = run_study(config, progress=False, workers=1)
    parallel = run_study(config, progress=False, workers=2)
    # Equal up to rounding: BLAS kernels may round differently in another process (seen: 1 ulp);
    # any real dependence on the process (data, folds, selected λ) is far above 1e-12.
    np.testing.assert_allclose(
        [r["r2_per_seed"] for r in inline["rows"]],
        [r["r2_per_seed"] for r in parallel["rows"]],
        rtol=0,
        atol=1e-12,
    )


@pytest.mark.parametrize("correlation", [0.9, 0.0])
def test_simulated_latents_have_the_stated_covariance(correlation: float) -> None:
    # Σ_ij = c^|i−j| with unit variances (Appendix D.1 states c = 0.9), checked on many samples.
    config = StudyConfig(seeds=1, feature_correlation=correlation, n_test=20_000)
    data = simulate(config, seed=3)
    z = torch.cat([data.train_features[0], data.test_features[0]])
    lags = (torch.arange(100)[:, None] - torch.arange(100)[None, :]).abs()
    expected = (correlation**lags).to(torch.float64)
    assert torch.allclose(torch.cov(z.T), expected, atol=0.05)
    # The entangled features keep the spectrum (same conditioning), not the entries.
    mixed = torch.cat([data.train_features[1], data.test_features[1]])
    eig_z, eig_mixed = (
        torch.linalg.eigvalsh(torch.cov(z.T)),
        torch.linalg.eigvalsh(torch.cov(mixed.T)),
    )
    assert torch.allclose(eig_z, eig_mixed, rtol=1e-8, atol=1e-10)
    # w̄ is drawn once: the sparser supports are nested and share its entries (up to the
    # unit-norm scaling of the published protocol).
    w = data.weights
    torch.testing.assert_close(w.norm(dim=1), torch.ones(3, dtype=torch.float64))
    for sparse, dense in ((w[0], w[1]), (w[1], w[2])):
        on = sparse != 0
        ratio = dense[on] / sparse[on]
        torch.testing.assert_close(ratio, ratio[0].expand_as(ratio))


def test_text_protocol_keeps_the_unscaled_weights_of_appendix_d1():
    config = protocol("text", seeds=1, n_test=20_000)
    assert config.feature_correlation == 0.9 and config.weight_scale == "standard"
    data = simulate(config, seed=3)
    w = data.weights
    assert torch.equal(w[1][w[0] != 0], w[0][w[0] != 0])
    assert torch.equal(w[2][w[1] != 0], w[1][w[1] != 0])
    with pytest.raises(ValueError, match="preset"):
        protocol("appendix")


def test_fit_all_matches_scikit_learn_on_the_same_data():
    """End-to-end check of one (seed, n) cell: λ grids, folds, selection, refit and test R²."""
    from sklearn.linear_model import LassoCV, Ridge
    from sklearn.metrics import r2_score as sk_r2_score
    from sklearn.model_selection import KFold

    from harness.section2.study import fit_all

    n, n_folds = 25, 5
    config = StudyConfig(
        seeds=1, train_sizes=(n,), sparsities=(0.05, 0.8), n_test=300, lasso_lambdas=6,
        ridge_lambdas=9, cv_tol=1e-9, tol=1e-9, max_iter=100_000,
    )  # fmt: skip
    data = simulate(config, seed=1)
    ours = fit_all(config, data, n)
    F = data.train_features[:, :n].unsqueeze(0).expand(2, -1, -1, -1)
    y = data.train_targets[:, :n].unsqueeze(1).expand(-1, 2, -1)
    grids = lambda_grids(config, F, y)
    folds = list(KFold(n_folds).split(range(n)))
    for s in range(2):
        for r in range(2):
            X, target = F[s, r].numpy(), y[s, r].numpy()
            X_test, y_test = data.test_features[r].numpy(), data.test_targets[s].numpy()
            lasso = LassoCV(
                alphas=grids["Lasso"][s, r].numpy(), cv=KFold(n_folds), fit_intercept=False,
                tol=1e-12, max_iter=200_000,
            ).fit(X, target)  # fmt: skip
            assert ours["Lasso"]["lam"][s, r].item() == pytest.approx(lasso.alpha_)
            assert ours["Lasso"]["r2"][s, r].item() == pytest.approx(
                sk_r2_score(y_test, X_test @ lasso.coef_), abs=1e-4
            )
            # Ridge: 1/(2n)||y − Fw||² + (λ/2)||w||² is scikit-learn's Ridge with alpha = n·λ.
            mse = []
            for lam in grids["Ridge"][s, r].tolist():
                errors = [
                    np.mean((Ridge(alpha=len(tr) * lam, fit_intercept=False)
                             .fit(X[tr], target[tr]).predict(X[va]) - target[va]) ** 2)
                    for tr, va in folds
                ]  # fmt: skip
                mse.append(np.mean(errors))
            best = grids["Ridge"][s, r, int(np.argmin(mse))].item()
            ridge = Ridge(alpha=n * best, fit_intercept=False).fit(X, target)
            assert ours["Ridge"]["lam"][s, r].item() == pytest.approx(best)
            assert ours["Ridge"]["r2"][s, r].item() == pytest.approx(
                sk_r2_score(y_test, ridge.predict(X_test)), abs=1e-8
            )


def test_default_solver_budget_converges_on_a_study_cell():
    # With max_iter = 5000, this cell left ~20 cross-validation Lasso solves short of cv_tol.
    from harness.section2.study import fit_cell

    cell = fit_cell(protocol("text"), seed=0, n=25)  # the ill-conditioned Σ
    assert cell["Lasso"]["cv_unconverged"] == 0 and cell["Lasso"]["refit_unconverged"] == 0


def test_one_standard_error_rule_matches_a_scikit_learn_reference():
    """The λ of ``rule="one-se"``: the largest λ whose mean fold MSE is within one standard
    error (of the folds' MSEs at the minimum) of the minimum, recomputed with scikit-learn."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold

    from harness.crossval import cross_validate
    from harness.section2.study import ridge_fitter

    config = StudyConfig(seeds=1, train_sizes=(25,), sparsities=(0.05,), ridge_lambdas=15)
    data = simulate(config, seed=2)
    F, y = data.train_features[:, :25], data.train_targets[0, :25].expand(2, -1)
    grid = lambda_grids(config, F, y)["Ridge"]
    picked = {
        rule: cross_validate(ridge_fitter(), F, y, grid, 5, rule=rule).lam
        for rule in ("min", "one-se")
    }
    for r in range(2):
        X, target = F[r].numpy(), y[r].numpy()
        fold_mse = np.array(
            [
                [
                    np.mean((Ridge(alpha=len(tr) * lam, fit_intercept=False)
                             .fit(X[tr], target[tr]).predict(X[va]) - target[va]) ** 2)
                    for tr, va in KFold(5).split(X)
                ]
                for lam in grid[r].tolist()
            ]
        )  # fmt: skip
        mean = fold_mse.mean(1)
        best = int(mean.argmin())
        bound = mean[best] + fold_mse[best].std(ddof=1) / np.sqrt(5)
        expected = grid[r].numpy()[mean <= bound].max()
        assert picked["min"][r].item() == pytest.approx(grid[r, best].item())
        assert picked["one-se"][r].item() == pytest.approx(expected)
        assert picked["one-se"][r] >= picked["min"][r]
    with pytest.raises(ValueError, match="rule"):
        cross_validate(ridge_fitter(), F, y, grid, 5, rule="1se")


def test_published_comparison_and_statements():
    from harness.section2 import published

    rows = [
        {"method": m, "sparsity": 0.05, "n_samples": n, "r2_mean": v, "r2_sem": 0.01}
        for m, values in published.MEANS.items()
        for n, v in zip(published.TRAIN_SIZES, values, strict=True)
    ]
    assert all(c.within for c in published.compare(rows))
    shifted = [{**r, "r2_mean": r["r2_mean"] + 0.15} for r in rows]
    checks = published.compare(shifted)
    # Only Disentangled-Lasso at n = 25 (published s.e. 0.112) tolerates a 0.15 shift.
    assert [(c.method, c.n_samples) for c in checks if c.within] == [("Disentangled-Lasso", 25)]
    findings = published.statements(rows)
    assert findings[0].verdict == "reproduced" and "18 of 18" in findings[0].ours
    assert "❌" in published.comparison_table(shifted)
