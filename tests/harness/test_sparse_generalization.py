import json

import pytest
import torch

from harness.cli import main
from harness.experiments.section2_study import (
    METHODS,
    StudyConfig,
    lambda_grids,
    run_study,
    simulate,
)
from harness.experiments.sparse_generalization import summary_table

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
        "--tol", "1e-4", "--workers", "1", "--no-progress",
    ]  # fmt: skip
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "sparse-generalization"
    assert results["config"]["seeds"] == 2
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


def test_config_errors_name_the_argument():
    with pytest.raises(ValueError, match="sparsities"):
        StudyConfig(sparsities=(0.0,))
    with pytest.raises(ValueError, match="train_sizes"):
        StudyConfig(train_sizes=(3,))
    with pytest.raises(ValueError, match="dtype"):
        StudyConfig(dtype="float16")


def test_worker_processes_give_the_same_results():
    config = StudyConfig(
        seeds=2, train_sizes=(25,), sparsities=(0.05,), n_test=100, lasso_lambdas=4, cv_tol=1e-4
    )
    inline = run_study(config, progress=False, workers=1)
    parallel = run_study(config, progress=False, workers=2)
    assert [r["r2_per_seed"] for r in inline["rows"]] == [
        r["r2_per_seed"] for r in parallel["rows"]
    ]
