"""Smoke tests of the standalone device benchmarks: the training step (`benchmarks.training_step`),
the sync counts (`benchmarks.syncs`) and the ``make bench-gpu`` module (`benchmarks.gpu`) on
their tiny CPU sizes, so that ``make test`` keeps them runnable (no timing is asserted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from benchmarks import gpu, training_step

CPU = torch.device("cpu")


def quiet(_: str) -> None:
    """A ``log`` that prints nothing."""


def test_training_step_smoke(tmp_path: Path) -> None:
    assert training_step.main(["--smoke", "--out", str(tmp_path / "ts")]) == 0
    results = json.loads((tmp_path / "ts.json").read_text())["results"]
    assert [r["name"] for r in results] == [
        training_step.DISENTANGLEMENT_NAME,
        training_step.meta_name("resnet12", 0.0),
        training_step.meta_name("resnet12", training_step.SPARSE_LAM1),
    ]
    for r in results:
        assert "error" not in r, r
        # The hooks fired: the layer has a forward and a backward span inside the step.
        assert 0 < r["layer_forward_min_s"] and 0 < r["layer_backward_min_s"]
        assert r["layer_min_s"] <= r["step_min_s"]
        assert 0 < r["layer_share_pct"] <= 100
    assert "lam1_max_s" in results[-1]
    table = (tmp_path / "ts.md").read_text()
    assert table.count("\n| ") == 4  # header + 3 configurations


def test_training_step_cli(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        training_step.main(["--help"])
    assert info.value.code == 0
    assert "--smoke" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        training_step.parse_args(["--smoke", "--size", "paper"])


def test_gpu_module_cpu_smoke(tmp_path: Path) -> None:
    record = gpu.run(CPU, gpu.SMOKE, tmp_path, budget_s=600, log=quiet)
    assert len(record["regression"]) == len(gpu.SMOKE.regression)
    assert len(record["svm"]) == 2 * len(gpu.SMOKE.episodes)
    for row in record["regression"] + record["svm"]:
        assert "error" not in row and "skipped" not in row, row
        assert row["forward"]["median_s"] > 0 and row["forward_backward"]["x_floor"] > 0
    assert record["done"] == ["syncs", "training_step"]
    counts = json.loads((tmp_path / "syncs.json").read_text())
    assert len(counts) == 4
    for r in counts:
        assert "error" not in r, r
        assert r["total"]["host_reads"] == r["forward"]["host_reads"] + r["backward"]["host_reads"]
        # A solve that stops on its duality gap reads it on the host at least once.
        assert r["forward"]["host_reads"] > 0
    report = (tmp_path / "report.md").read_text()
    for title in ("## Group-Lasso layer", "## SVM head", "## Host–device syncs", "## Training"):
        assert title in report


def test_gpu_module_budget_skips(tmp_path: Path) -> None:
    record = gpu.run(CPU, gpu.SMOKE, tmp_path, budget_s=0.0, log=quiet)
    assert all("skipped" in row for row in record["regression"] + record["svm"])
    assert set(record["skipped"]) == {"syncs", "training_step"}
    assert "skipped" in (tmp_path / "report.md").read_text()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_gpu_module_without_cuda(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        gpu.main(["--device", "cuda"])
    assert info.value.code == 2
    assert "CUDA is not available" in capsys.readouterr().err
