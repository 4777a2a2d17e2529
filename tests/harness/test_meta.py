"""Meta-learning pieces: backbones, heads, training with resume, the CLI and its figures."""

import json
import pickle

import numpy as np
import pytest
import torch

from harness.cli import build_parser, main
from harness.config import config_overrides
from harness.data.factors import shapes3d_grid
from harness.data.fewshot import SPLIT_FILES, EpisodeSampler
from harness.data.fewshot_procedural import ProceduralFewShot
from harness.data.procedural import ProceduralShapes
from harness.data.renderer import SceneConfig
from harness.distributed import DistContext
from harness.meta.config import PAPER_LAM1, MetaConfig, preset
from harness.meta.heads import HeadConfig, MetaHead
from harness.meta.train import build_model, train
from harness.models.backbones import Conv4, ResNet12

TINY = preset(
    "quick",
    image_size=16,
    way=3,
    train_shot=2,
    test_shot=2,
    query=2,
    episodes_per_batch=2,
    steps=4,
    eval_episodes=4,
    eval_query=2,
    val_episodes=2,
    val_every=2,
    checkpoint_every=1,
)


def test_backbone_shapes_and_dropblock_schedule():
    assert Conv4(width=8)(torch.randn(2, 3, 16, 16)).shape == (2, 8)
    net = ResNet12(channels=(4, 4, 8, 8), block_size=2)
    assert net(torch.randn(2, 3, 16, 16)).shape == (2, 8)
    net.set_progress(0.5)
    assert net.keep_rate == pytest.approx(0.95)
    state = net.state_dict()
    assert float(state["progress"]) == 0.5  # checkpointed and broadcast by DDP as a buffer
    net.train()
    out = net(torch.randn(2, 3, 16, 16))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize(
    "config", [HeadConfig("svm", 0.0), HeadConfig("svm", 0.3), HeadConfig("ridge", 0.0, 0.1)]
)
def test_heads_give_logits_and_gradients(config):
    torch.manual_seed(0)
    support = torch.randn(2, 6, 16, requires_grad=True)
    labels = torch.tensor([0, 0, 1, 1, 2, 2]).expand(2, 6)
    head = MetaHead(config, way=3)
    out = head(support, labels, torch.randn(2, 4, 16))
    assert out.logits.shape == (2, 4, 3) and out.used.shape == (2, 16)
    out.logits.sum().backward()
    assert torch.isfinite(support.grad).all() and head.scale.grad is not None
    if config.lam1 > 0:
        assert out.sparsity.min() > 0
    else:
        assert out.sparsity.max() == 0
    with pytest.raises(ValueError, match="lam1"):
        HeadConfig("ridge", 0.1)


def test_svm_head_lam1_is_relative_to_each_tasks_lambda1_max():
    import sparselayers.functional as SF

    torch.manual_seed(1)
    support = torch.randn(3, 9, 12, dtype=torch.float64)
    support[2] *= 5.0  # a task on another scale: the relative weight does not care
    labels = torch.tensor([0, 0, 0, 1, 1, 1, 2, 2, 2]).expand(3, 9)
    query = torch.randn(3, 4, 12, dtype=torch.float64)
    for lam1, zero in ((2.0, True), (0.5, False)):
        head = MetaHead(HeadConfig("svm", lam1, tol=1e-8, max_iter=20_000), way=3).double()
        out = head(support, labels, query)
        assert bool((out.sparsity == 1).all()) == zero
    # λ1 = 0.5 · λ1_max(task): the head equals the absolute-λ1 layer at that value.
    normalized = torch.nn.functional.normalize(support, dim=-1)
    lam1 = 0.5 * SF.svm_lambda1_max(normalized, labels, num_classes=3, tol=1e-2)
    direct = SF.group_lasso_svm_dual(normalized, labels, lam1, 1.0, num_classes=3, tol=1e-8,
                                     max_iter=20_000)  # fmt: skip
    used = direct.weights.abs().sum(-2) > 0
    torch.testing.assert_close(out.used, used)


def test_training_resumes_exactly(tmp_path):
    renderer = ProceduralShapes(shapes3d_grid(), SceneConfig(image_size=16, supersample=1))
    data = ProceduralFewShot("train", renderer=renderer)
    sampler = EpisodeSampler(data, TINY.way, TINY.train_shot, TINY.query, seed=0)
    head = HeadConfig("svm", 0.3)
    full = build_model(TINY, head, seed=0)
    h_full = train(full, TINY, sampler, sampler, tmp_path / "a.pt", DistContext(), progress=False)
    part = build_model(TINY, head, seed=0)
    train(part, TINY, sampler, None, tmp_path / "b.pt", DistContext(), False, stop_after=2)
    part = build_model(TINY, head, seed=0)
    h_part = train(part, TINY, sampler, sampler, tmp_path / "b.pt", DistContext(), False)
    assert len(h_full.loss) == 4
    assert h_part.loss == pytest.approx(h_full.loss, rel=1e-6)
    for a, b in zip(full.state_dict().values(), part.state_dict().values(), strict=True):
        assert torch.allclose(a.float(), b.float(), atol=1e-6)


def test_preset_overrides_and_schedule():
    p = preset("paper")
    assert p == MetaConfig()  # the defaults are the paper's recipe
    assert p.backbone == "resnet12" and p.train_shot > p.test_shot and p.episodes_per_batch == 8
    assert p.lr_factor(0) == 1.0 and p.lr_factor(59_999) == pytest.approx(0.0024)
    with pytest.raises(ValueError, match="preset"):
        preset("slow")
    q = preset("quick", steps=10)
    assert q.backbone == "conv4" and q.steps == 10 and q.lr_drops == ((0.6, 0.1), (0.85, 0.01))
    assert q.lam1 == PAPER_LAM1 and q.ridge_reference  # Fig. 5's grid and its references
    assert q.heads()[0] == ("svm", 0.0) and q.heads()[-1] == ("ridge", 0.0)
    with pytest.raises(ValueError, match="lam1"):
        preset("quick", lam1=(0.0, 0.1, 0.1))
    with pytest.raises(ValueError, match="dataset"):
        preset("quick", dataset="omniglot")


def test_flags_map_onto_the_config(tmp_path, capsys):
    argv = ["meta-svm", "--preset", "paper", "--lam1", "0", "0.3", "--steps", "7"]
    args = build_parser().parse_args([*argv, "--train-shot", "3", "--threads", "1"])
    overrides = config_overrides(args, MetaConfig)
    assert overrides == {"lam1": (0.0, 0.3), "steps": 7, "train_shot": 3}
    assert preset(args.preset, **overrides) == MetaConfig(lam1=(0.0, 0.3), steps=7, train_shot=3)
    # Invalid settings are refused before any work, naming the flag.
    assert main(["meta-svm", "--lam1", "-0.1", "--out", str(tmp_path)]) == 2
    assert "lam1 must be >= 0" in capsys.readouterr().err


def test_cli_smoke_and_plot(tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["meta-svm", "--out", str(out), "--steps", "2", "--image-size", "16"]
    argv += ["--eval-episodes", "4", "--lam1", "0", "0.3", "--no-progress", "--threads", "1"]
    assert main(argv) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "meta-svm"
    config = results["config"]
    assert config["preset"] == "quick" and config["lam1"] == [0.0, 0.3] and config["steps"] == 2
    assert config["image_size"] == 16 and config["backbone"] == "conv4"
    assert config["world_size"] == 1
    rows = results["rows"]
    assert [(r["head"], r["lam1"]) for r in rows] == [("svm", 0.0), ("svm", 0.3), ("ridge", 0.0)]
    assert len(rows[0]["history"]["loss"]) == 2
    assert 0 <= rows[1]["sparsity"] <= 1 and len(rows[1]["usage"]) == 64
    assert (out / "runs" / "svm-lam1_0.3" / "checkpoint.pt").is_file()
    assert (out / "rows" / "ridge.json").is_file()
    capsys.readouterr()
    assert main(argv) == 0  # finished heads are not trained again
    assert "heads to train" not in capsys.readouterr().out
    assert main([*argv, "--lam1", "0", "0.3", "0.6", "--workers", "1"]) == 0
    assert "1 of 4 heads to train" in capsys.readouterr().out  # a grid point added
    assert main([*argv, "--steps", "3", "--lam1", "0.3", "--no-ridge-reference"]) == 0
    assert "1 of 1 heads to train" in capsys.readouterr().out  # other settings: trained again
    assert main(["plot", str(out / "results.json"), "--out", str(tmp_path / "figs")]) == 0
    assert (tmp_path / "figs" / "fig5_right_accuracy_vs_sparsity.png").is_file()
    assert (tmp_path / "figs" / "fig5_left_feature_usage.png").is_file()
    assert main(["meta-svm", "--dataset", "cifar-fs", "--out", str(tmp_path / "x")]) == 2
    assert "data-dir" in capsys.readouterr().err


def test_cli_runs_on_pickles(tmp_path):
    """The real-data path end to end on tiny CIFAR-FS-format pickles (16x16 images)."""
    rng = np.random.default_rng(0)
    for name in SPLIT_FILES["cifar-fs"].values():
        data = rng.integers(0, 256, (6 * 20, 16, 16, 3), dtype=np.uint8)
        with (tmp_path / name).open("wb") as f:
            pickle.dump({"data": data, "labels": [i % 6 for i in range(120)]}, f, protocol=2)
    out = tmp_path / "run"
    argv = ["meta-svm", "--dataset", "cifar-fs", "--data-dir", str(tmp_path), "--out", str(out)]
    argv += ["--steps", "1", "--eval-episodes", "2", "--no-progress", "--threads", "1"]
    argv += ["--lam1", "0", "--no-ridge-reference"]
    assert main(argv) == 0
    row = json.loads((out / "results.json").read_text())["rows"][0]
    assert 0 <= row["accuracy"] <= 1 and len(row["usage"]) == 64


def _head(lam1, accuracy, sparsity, ci=0.01, usage=None, head="svm"):
    return {
        "head": head, "lam1": lam1, "accuracy": accuracy, "sparsity": sparsity, "ci95": ci,
        "usage": usage if usage is not None else [1.0 - sparsity] * 10,
    }  # fmt: skip


def test_fig5_findings_on_hand_made_rows():
    from harness.meta.findings import findings

    rows = [
        _head(0.0, 0.90, 0.0),
        _head(0.2, 0.895, 0.35, usage=[0.05, 0.2, 0.4, 0.5, 0.6, 0.8, 1, 1, 1, 0]),
        _head(0.5, 0.85, 0.6),
        _head(0.9, 0.70, 0.9),
        _head(2.0, 0.20, 1.0),
        _head(0.0, 0.88, 0.02, head="ridge"),
    ]
    found = {f.claim: f for f in findings(rows, way=5, planned=6)}
    verdicts = [f.verdict for f in found.values()]
    assert verdicts == ["reproduced", "reproduced", "reproduced", "reported"]
    assert "λ1/λ1_max = 0.2" in next(iter(found.values())).ours
    assert "2 (20.0 %" in list(found.values())[-1].ours  # the collapsed head is named
    assert findings(rows[:3], way=5, planned=6)[0].verdict == "pending"
    flat = [_head(0.0, 0.90, 0.0), _head(0.2, 0.80, 0.35), _head(0.5, 0.85, 0.6)]
    assert findings(flat, way=5)[0].verdict == "not reproduced"


def test_a_failing_head_is_recorded_and_does_not_stop_the_sweep(tmp_path, monkeypatch):
    import harness.meta.experiment as experiment

    real = experiment.run_one

    def flaky(config, kind, lam1, *args, **kwargs):
        if lam1 == 0.3:
            raise ValueError("features contains NaN or Inf")
        return real(config, kind, lam1, *args, **kwargs)

    monkeypatch.setattr(experiment, "run_one", flaky)
    config = TINY.__class__(**{**TINY.__dict__, "lam1": (0.0, 0.3), "ridge_reference": True})
    lines = []
    rows = experiment.run_sweep(config, tmp_path, DistContext(), progress=False, log=lines.append)
    assert [(r["head"], r["lam1"]) for r in rows] == [("svm", 0.0), ("ridge", 0.0)]
    assert "NaN" in (tmp_path / "rows" / "svm-lam1_0.3.error").read_text()
    assert any("FAILED" in line for line in lines)
    monkeypatch.setattr(experiment, "run_one", real)
    experiment.run_sweep(config, tmp_path, DistContext(), progress=False, log=lines.append)
    assert not (tmp_path / "rows" / "svm-lam1_0.3.error").exists()  # trained again, fine
