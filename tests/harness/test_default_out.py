"""The default ``--out``: one stable directory per configuration, so that the same command
resumes (`harness.cli.default_out`)."""

from pathlib import Path

import pytest

from harness.cli import build_parser, default_out, experiment_module
from harness.disentanglement import config as disentanglement_config


def _out(*argv: str) -> Path:
    args = build_parser().parse_args(list(argv))
    return default_out(experiment_module(args.experiment), args)


def test_the_same_command_gets_the_same_directory_and_another_configuration_another():
    lambda_sweep = _out("disentanglement", "--sweep", "lambda")
    assert lambda_sweep == _out("disentanglement", "--sweep", "lambda")
    assert lambda_sweep.parent == Path("runs/disentanglement")
    assert lambda_sweep.name.startswith("quick_lambda-") and len(lambda_sweep.name) == 21
    others = {
        _out("disentanglement", "--sweep", "noise"),
        _out("disentanglement", "--sweep", "lambda", "--steps", "500"),
        _out("disentanglement", "--sweep", "lambda", "--seeds", "2"),
        _out("disentanglement", "--sweep", "lambda", "--preset", "paper"),
    }
    assert lambda_sweep not in others and len(others) == 4
    steps = _out("disentanglement", "--sweep", "lambda", "--steps", "500")
    assert steps.name.startswith("quick_lambda_steps=500-")
    meta = _out("meta-svm", "--lam1", "0", "0.3", "--no-ridge-reference")
    assert meta.name.startswith("quick_lam1=0,0.3_no-ridge-reference-")


def test_how_it_runs_does_not_change_where():
    # Workers, threads, device, progress, and a job array's --list-runs / --run-index K.
    base = _out("disentanglement", "--sweep", "lambda")
    for flags in (
        ["--workers", "1"],
        ["--threads", "2"],
        ["--no-progress"],
        ["--list-runs"],
        ["--run-index", "3"],
    ):
        assert _out("disentanglement", "--sweep", "lambda", *flags) == base, flags
    section2 = _out("sparse-generalization")
    assert _out("sparse-generalization", "--workers", "1") == section2
    assert section2.name.startswith("published-")


def test_the_directory_follows_the_resolved_settings(monkeypatch):
    # The hash is of the settings a command resolves, not of its words: a preset changed in
    # the code does not resume the runs of the old one.
    before = _out("disentanglement", "--preset", "smoke")
    changed = {**disentanglement_config.PRESETS["smoke"], "steps": 6}
    monkeypatch.setitem(disentanglement_config.PRESETS, "smoke", changed)
    after = _out("disentanglement", "--preset", "smoke")
    assert after != before and after.name.split("-")[0] == before.name.split("-")[0]


def test_a_bad_setting_is_refused_before_any_directory_is_named():
    with pytest.raises(ValueError, match="lower --val-every"):
        _out("disentanglement", "--steps", "10")


def test_reproduce_keeps_results_of_its_scale_and_the_help_says_so(capsys):
    args = build_parser().parse_args(["reproduce", "--scale", "smoke"])
    assert experiment_module("reproduce").default_out(args) == Path("results/smoke")
    for command in ("disentanglement", "meta-svm"):
        with pytest.raises(SystemExit):
            build_parser().parse_args([command, "--help"])
        text = " ".join(capsys.readouterr().out.split())
        assert f"runs/{command}/<preset and options given>-<hash of the settings>" in text
        assert "resumes that run" in text and "the same command again finds it" in text
