"""The estimate printed before a sweep starts (`harness.eta`) and where its seconds come from."""

import json

import pytest
import torch

from harness.cli import main
from harness.disentanglement.config import preset
from harness.disentanglement.sweep import estimate, plan, row_path
from harness.distributed import DistContext
from harness.eta import Estimate, format_duration, from_finished, seconds_per_step, total_line
from harness.meta.config import preset as meta_preset
from harness.meta.experiment import estimate as meta_estimate
from harness.meta.experiment import head_id, head_settings


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "<1 min"), (59, "<1 min"), (90, "~2 min"), (3599, "~1 h 00 min"), (3725, "~1 h 02 min")],
)
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


def test_runs_fill_the_workers_in_waves():
    five = Estimate(runs=5, done=0, steps=100, seconds_per_step=0.5, source="measured", workers=2)
    assert five.seconds == 3 * 100 * 0.5  # ceil(5 / 2) waves of 100 steps
    assert Estimate(1, 0, 100, 0.5, "measured", workers=8).seconds == 50.0
    assert five.line() == "5 runs × 100 steps, ~0.5 s/step measured → ETA ~2 min with 2 workers"
    one = Estimate(1, 0, 3000, 0.02, "measured (3 calibration steps; training only)", workers=2)
    assert one.line() == (
        "1 run × 3000 steps, ~0.02 s/step measured (3 calibration steps; training only) → ETA "
        "~1 min with 1 worker"
    )


def test_the_line_says_what_is_done_when_resuming():
    resumed = Estimate(runs=40, done=89, steps=3000, seconds_per_step=0.05, source="m", workers=2)
    assert resumed.line().endswith(
        "→ ETA ~50 min with 2 workers; 89 of 129 runs done before (resuming)"
    )
    finished = Estimate(0, 48, 150, 0.9, "m", workers=2, noun="heads")
    assert finished.line() == "nothing to train: 48 heads done before"
    assert total_line([finished]) == "total: nothing to train"
    assert total_line([finished, resumed, resumed]) == "total: ETA ~1 h 40 min"


def test_seconds_per_step_warms_up_then_times_on_the_threads_asked():
    calls, threads = [], []

    def step():
        calls.append(1)
        threads.append(torch.get_num_threads())

    before = torch.get_num_threads()
    assert seconds_per_step(step, torch.device("cpu"), steps=3, threads=1) >= 0
    assert len(calls) == 4 and set(threads) == {1}  # one warm-up step, three timed
    assert torch.get_num_threads() == before
    assert from_finished([10.0, 30.0], [100, 300]) == 0.1
    assert from_finished([], []) is None


def test_a_resumed_sweep_reuses_its_finished_runs_wall_time(tmp_path):
    configs = [preset("smoke", lam=lam) for lam in (0.1, 0.3, 1.0)]
    units = plan(configs)
    for config in configs[:2]:  # two finished runs, 4 steps in 2 and 6 s
        row = {"train_seconds": 2.0 + 4 * (config.lam > 0.2), "steps_done": 4}
        path = row_path(tmp_path, config)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(row))
    resumed = estimate(units, tmp_path, None, workers=2)
    assert (resumed.runs, resumed.done, resumed.seconds_per_step) == (1, 2, 1.0)
    assert resumed.line() == (
        "1 run × 4 steps, ~1 s/step measured on 2 finished runs (training only) → ETA <1 min "
        "with 1 worker; 2 of 3 runs done before (resuming)"
    )
    fresh = estimate(units, tmp_path / "new", None, workers=2)  # times a few steps here
    assert fresh.runs == 3 and fresh.done == 0 and fresh.seconds_per_step > 0
    assert "(3 calibration steps; training only)" in fresh.line()


def test_meta_sweep_estimate_from_finished_heads_or_calibration(tmp_path):
    config = meta_preset("quick", lam1=(0.0, 0.3), steps=2, image_size=16, ridge_reference=False)
    fresh = meta_estimate([config], tmp_path, ctx=DistContext(), workers=2)
    assert (fresh.runs, fresh.done, fresh.steps) == (2, 0, 2) and fresh.seconds_per_step > 0
    assert fresh.line().startswith("2 heads × 2 steps, ~")
    row = {"settings": head_settings(config), "train_seconds": 3.0, "eval_seconds": 1.0}
    row["history"] = {"loss": [1.0, 1.0]}
    (tmp_path / "rows").mkdir()
    (tmp_path / "rows" / f"{head_id('svm', 0.0)}.json").write_text(json.dumps(row))
    resumed = meta_estimate([config], tmp_path, ctx=DistContext(), workers=2)
    assert (resumed.runs, resumed.done, resumed.seconds_per_step) == (1, 1, 2.0)
    assert "measured on 1 finished heads (evaluation included)" in resumed.line()


def test_the_command_prints_the_estimate_before_training(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the default --out is relative to the working directory
    argv = ["disentanglement", "--preset", "smoke", "--workers", "1", "--no-progress"]
    assert main(argv) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("out: runs/disentanglement/smoke_single-") and out[0].endswith("(new)")
    assert out[1].startswith("1 run × 4 steps, ~") and "calibration steps" in out[1]
    assert "with 1 worker" in out[1]
    assert main(argv) == 0  # the same command: the same directory, nothing left to train
    again = capsys.readouterr().out.splitlines()
    assert again[0] == out[0].replace(
        "(new)", "(exists: finished work is kept, interrupted runs resume)"
    )
    assert again[1] == "nothing to train: 1 run done before"
