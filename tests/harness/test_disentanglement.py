"""The disentanglement experiment: encoder, methods, training, resume, sweep, CLI (tiny sizes)."""

import json
import os
import socket
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch

from harness import cli
from harness.checkpoint import load_checkpoint
from harness.data import ProceduralShapes, SceneConfig
from harness.disentanglement import sweep as sweep_module
from harness.disentanglement import train as train_module
from harness.disentanglement.config import RunConfig, preset
from harness.disentanglement.methods import METHODS
from harness.disentanglement.sweep import (
    UnitBusy,
    expand,
    plan,
    read_rows,
    run_sweep,
    run_unit,
    run_units,
    unit_status,
)
from harness.disentanglement.train import NonFiniteLoss, same_config, train
from harness.models import ConvEncoder, TaskBatchNorm
from tests.harness.helpers import tiny_grid, write_shapes_file

TINY = RunConfig(
    image_size=16,
    steps=4,
    num_tasks=2,
    n_samples=12,
    lr=1e-3,
    val_every=2,
    val_batches=1,
    patience=5,
    checkpoint_every=2,
    eval_points=None,
    ica_samples=64,
)


@pytest.fixture(scope="module")
def source() -> ProceduralShapes:
    return ProceduralShapes(tiny_grid(), SceneConfig(image_size=16, supersample=1))


def test_encoder_shapes_and_per_task_batch_norm() -> None:
    torch.manual_seed(0)
    encoder = ConvEncoder(32, z_dim=6)
    features = encoder(torch.rand(3, 10, 3, 32, 32))
    assert features.shape == (3, 10, 6)
    norm = TaskBatchNorm(6)
    x = 3 + 5 * torch.randn(3, 10, 6)
    y = norm(x)
    torch.testing.assert_close(y.mean(1), torch.zeros(3, 6), atol=1e-5, rtol=0)
    torch.testing.assert_close(y.std(1, unbiased=False), torch.ones(3, 6), atol=1e-4, rtol=0)
    torch.testing.assert_close(norm.running_mean, 0.1 * x.mean((0, 1)), atol=0.2, rtol=0)
    norm.eval()
    torch.testing.assert_close(norm(x), (x - norm.running_mean) / (norm.running_var + 1e-5).sqrt())
    assert not torch.equal(encoder.norm.running_mean, torch.zeros(6))
    encoder.eval()
    assert encoder(torch.rand(5, 3, 32, 32)).shape == (5, 6)
    assert ConvEncoder(64).eval()(torch.rand(2, 3, 64, 64)).shape == (2, 6)
    with pytest.raises(ValueError, match="multiple of 16"):
        ConvEncoder(30)
    with pytest.raises(ValueError, match="expected"):
        encoder(torch.rand(2, 3, 16, 16))


def test_config_errors() -> None:
    with pytest.raises(ValueError, match="method: unknown"):
        RunConfig(method="inner-elastic")
    with pytest.raises(ValueError, match="val_every"):
        RunConfig(steps=10, val_every=20)
    with pytest.raises(ValueError, match="weights: unknown"):
        RunConfig(weights="gauss")
    with pytest.raises(ValueError, match="preset: unknown"):
        preset("huge")
    assert preset("quick").image_size == 16 and preset("paper").steps == 20_000
    assert preset("smoke").steps < 10


@pytest.mark.parametrize("method", METHODS)
def test_every_method_trains_and_scores(method: str, source, tmp_path: Path) -> None:
    config = replace(
        TINY, method=method, lam=0.1, backward="unroll" if method == "outer-lasso" else "implicit"
    )
    (row,) = run_unit(plan([config])[0], tmp_path, source, progress=False)
    for key in ("mcc", "r", "dci_d", "dci_c"):
        assert 0.0 <= row[key] <= 1.0 + 1e-9
    assert row["eval_points"] == source.grid.num_points and row["steps_done"] == 4
    assert len(row["traversals"]["features"]) == 6
    checkpoint = tmp_path / "runs" / config.trained_as().run_id / "checkpoint.pt"
    assert load_checkpoint(checkpoint)["step"] == 4


def test_interrupted_run_resumes_to_the_same_model(source, tmp_path, monkeypatch) -> None:
    reference = train(TINY, source, tmp_path / "a", progress=False).encoder.state_dict()
    original = train_module.TaskSampler.sample

    def interrupted(self, step, task_ids=None):
        if step == 3 and self.seed == TINY.seed:
            raise KeyboardInterrupt
        return original(self, step, task_ids)

    monkeypatch.setattr(train_module.TaskSampler, "sample", interrupted)
    with pytest.raises(KeyboardInterrupt):
        train(TINY, source, tmp_path / "b", progress=False)
    assert load_checkpoint(tmp_path / "b" / "checkpoint.pt")["step"] == 2
    monkeypatch.setattr(train_module.TaskSampler, "sample", original)
    resumed = train(TINY, source, tmp_path / "b", progress=False)
    assert resumed.state.step == 4
    for key, value in reference.items():
        torch.testing.assert_close(resumed.encoder.state_dict()[key], value)
    with pytest.raises(ValueError, match="another configuration"):
        train(replace(TINY, lr=0.5), source, tmp_path / "b", progress=False)


def test_nan_loss_stops_and_keeps_last_checkpoint(source, tmp_path, monkeypatch) -> None:
    original = train_module.TaskRegression.forward

    def poisoned(self, features, targets):
        loss, weights = original(self, features, targets)
        return (loss * float("nan") if self.calls == 2 else loss), weights

    def counting(self, features, targets):
        self.calls = getattr(self, "calls", 0) + 1
        return poisoned(self, features, targets)

    monkeypatch.setattr(train_module.TaskRegression, "forward", counting)
    with pytest.raises(NonFiniteLoss, match="non-finite outer loss at step 1"):
        train(replace(TINY, checkpoint_every=1), source, tmp_path, progress=False)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["step"] == 1


def test_plan_trains_each_distinct_problem_once() -> None:
    configs = [
        replace(TINY, method=m, lam=lam)
        for m, lam in [
            ("inner-lasso", 0.0),
            ("inner-ridge", 0.0),
            ("inner-ridge-ica", 0.0),
            ("outer-lasso", 0.0),
            ("inner-ridge-ica", 0.1),
            ("inner-ridge", 0.1),
            ("outer-ridge-ica", 0.1),
            ("outer-ridge", 0.1),
            ("inner-lasso", 0.1),
        ]
    ]
    units = plan(configs)
    assert [u.run_id.split("_")[0] + f" {u.config.lam:g}" for u in units] == [
        "inner-ridge 0",
        "inner-ridge 0.1",
        "outer-ridge 0.1",
        "inner-lasso 0.1",
    ]
    assert [len(u.rows) for u in units] == [4, 2, 2, 1]
    assert units[0].rows[0].method == "inner-lasso" and units[0].config.method == "inner-ridge"
    with pytest.raises(ValueError, match="share a run id"):
        plan(configs + configs[:1])


def test_sweep_skips_finished_runs_and_trains_ica_rows_on_ridge(
    source, tmp_path, monkeypatch
) -> None:
    configs = expand(TINY, ["inner-ridge"], [0.0, 0.1], [0.0], [1.0], ["bernoulli"], [0])
    first = run_sweep(configs[:1], tmp_path, source, progress=False)
    calls = []
    real = train_module.train

    def counted(config, *args, **kwargs):
        calls.append(config.run_id)
        return real(config, *args, **kwargs)

    monkeypatch.setattr(sweep_module, "train", counted)
    ica = expand(TINY, ["inner-ridge-ica"], [0.0, 0.1], [0.0], [1.0], ["bernoulli"], [0])
    rows = run_sweep(configs + ica, tmp_path, source, progress=False)
    # The finished run is not retrained; its ICA row reuses its checkpoint (a call that
    # returns at once), the second ridge run trains once for both of its rows.
    assert calls == [configs[0].run_id, configs[1].run_id]
    assert rows[0]["mcc"] == first[0]["mcc"] and [r["lam"] for r in rows] == [0.0, 0.1] * 2
    assert [r["method"] for r in rows] == ["inner-ridge"] * 2 + ["inner-ridge-ica"] * 2
    assert rows[2]["trained_as"] == configs[0].run_id and rows[2]["mcc"] != rows[0]["mcc"]
    assert rows[2]["best_step"] == rows[0]["best_step"]
    for row in rows:
        corr = np.asarray(row["abs_corr"])
        assert corr.shape == (6, 6) and abs(np.diagonal(corr).mean() - row["mcc"]) < 1e-3
        assert row["val_heldout_mse"] > 0 and sorted(row["feature_order"]) == list(range(6))


def test_a_locked_unit_is_skipped_and_a_stale_lock_taken_over(source, tmp_path) -> None:
    unit = plan([TINY])[0]
    lock = tmp_path / "runs" / unit.run_id / "lock"
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{socket.gethostname()} {os.getpid()}\n")  # a live process holds it
    assert unit_status(tmp_path, unit).startswith("running")
    with pytest.raises(UnitBusy, match="being trained by"):
        run_unit(unit, tmp_path, source, progress=False)
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    lock.write_text(f"{socket.gethostname()} {dead}\n")
    assert unit_status(tmp_path, unit) == "pending"
    assert run_unit(unit, tmp_path, source, progress=False)[0]["run_id"] == TINY.run_id
    assert not lock.exists() and unit_status(tmp_path, unit) == "done"
    # Another host's lock is trusted while its run writes checkpoints, stale an hour after.
    lock.write_text("another-host 1\n")
    assert not sweep_module._stale(lock)
    old = lock.stat().st_mtime - sweep_module.STALE_AFTER - 1
    for path in (lock, lock.parent / "checkpoint.pt"):
        os.utime(path, (old, old))
    assert sweep_module._stale(lock)


def test_workers_run_units_in_parallel_processes(small_grid, tmp_path) -> None:
    write_shapes_file(tmp_path / "3dshapes.h5", small_grid)
    configs = expand(TINY, ["inner-lasso", "inner-ridge"], [0.1], [0.0], [1.0], ["bernoulli"], [0])
    logged: list[str] = []
    run_units(plan(configs), tmp_path / "out", str(tmp_path), workers=2, log=logged.append)
    rows = read_rows(tmp_path / "out", configs)
    assert [r["method"] for r in rows] == ["inner-lasso", "inner-ridge"]
    assert logged[0] == "2 of 2 training runs to do, 2 at a time"
    assert sum(line.startswith("[") for line in logged) == 2
    logged.clear()
    run_units(plan(configs), tmp_path / "out", str(tmp_path), workers=2, log=logged.append)
    assert logged == []  # all done: nothing to run


def test_cli_run_plot_and_errors(small_grid, tmp_path, capsys) -> None:
    write_shapes_file(tmp_path / "3dshapes.h5", small_grid)
    out = tmp_path / "out"
    common = ["disentanglement", "--data-dir", str(tmp_path), "--image-size", "16", "--no-progress"]
    common += ["--workers", "1"]
    tiny = ["--steps", "2", "--val-every", "2", "--num-tasks", "2", "--n-samples", "8"]
    args = [*common, *tiny, "--eval-points", "full", "--lams", "0.1", "0.3", "--out", str(out)]
    assert cli.main([*args, "--methods", "inner-lasso"]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "disentanglement" and len(results["rows"]) == 2
    assert results["config"]["runs"][0]["steps"] == 2
    assert [row["lam"] for row in results["rows"]] == [0.1, 0.3]
    capsys.readouterr()
    both = [*args, "--methods", "inner-lasso", "inner-ridge-ica"]
    assert cli.main([*both, "--list-runs"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert len(listing) == 4 and "done" in listing[1] and "pending" in listing[2]
    assert "inner-ridge_lam0.1" in listing[2] and "rows: inner-ridge-ica" in listing[2]
    assert cli.main([*both, "--run-index", "2"]) == 0
    assert "collect" in capsys.readouterr().out
    assert cli.main([*both, "--list-runs"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert "done" in listing[2] and "pending" in listing[3]
    assert cli.main([*both, "--run-index", "4"]) == 2
    assert "run-index: 4 not in [0, 4)" in capsys.readouterr().err
    for path in out.glob("*.png"):
        path.unlink()
    assert cli.main(["plot", str(out / "results.json")]) == 0
    assert (out / "mcc_vs_lambda.png").is_file() and list(out.glob("traversal_*.png"))
    capsys.readouterr()
    assert cli.main([*common, "--data-dir", str(tmp_path / "nowhere"), *tiny]) == 2
    assert "no 3D Shapes file" in capsys.readouterr().err
    assert cli.main([*common, "--steps", "2", "--val-every", "5"]) == 2
    assert "val_every" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        cli.main([*common, "--methods", "inner-elastic"])


def test_cosine_schedule_and_checkpoints_older_than_a_field() -> None:
    cosine = replace(TINY, lr_schedule="cosine")
    assert cosine.learning_rate(0) == cosine.lr and TINY.learning_rate(3) == TINY.lr
    assert cosine.learning_rate(2) == pytest.approx(cosine.lr / 2)
    assert cosine.learning_rate(4) == pytest.approx(0.0, abs=1e-12)
    saved = TINY.to_dict()
    del saved["lr_schedule"]  # written before the field existed: its default
    assert same_config(saved, TINY) and not same_config(saved, cosine)
    with pytest.raises(ValueError, match="lr_schedule: unknown"):
        RunConfig(lr_schedule="step")
