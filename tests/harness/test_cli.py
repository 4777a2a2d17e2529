import json

import pytest
import torch

from harness.cli import EXPERIMENTS, build_parser, main


@pytest.mark.parametrize("command", [None, *EXPERIMENTS, "plot", "demo"])
def test_help(command, capsys):
    argv = ["--help"] if command is None else [command, "--help"]
    with pytest.raises(SystemExit) as exit_info:
        main(argv)
    assert exit_info.value.code == 0
    assert "usage: python -m harness" in capsys.readouterr().out


def test_every_experiment_has_out_and_a_plotter():
    parser = build_parser()
    for name in EXPERIMENTS:
        args = parser.parse_args([name])
        assert args.out is None and args.experiment == name
        from harness.cli import experiment_module

        module = experiment_module(name)
        assert callable(module.plot) and callable(module.run) and module.HELP


def test_render_samples_writes_grids_and_redraws(tmp_path, capsys):
    out = tmp_path / "render"
    assert (
        main(
            ["render-samples", "--out", str(out), "--supersample", "1", "--benchmark-images", "64"]
        )
        == 0
    )
    for name in ("factor_sweeps.png", "samples.png", "results.json"):
        assert (out / name).is_file()
    results = json.loads((out / "results.json").read_text())
    assert results["experiment"] == "render-samples"
    assert results["throughput"]["cached_images_per_s"] > 0
    (out / "samples.png").unlink()
    assert main(["plot", str(out / "results.json")]) == 0
    assert (out / "samples.png").is_file()


def test_plot_errors(tmp_path, capsys):
    assert main(["plot", str(tmp_path / "missing.json")]) == 2
    bad = tmp_path / "results.json"
    bad.write_text(json.dumps({"experiment": "no-such-experiment"}))
    assert main(["plot", str(bad)]) == 2
    assert "unknown 'no-such-experiment'" in capsys.readouterr().err


def test_bad_data_dir_is_a_clear_error(tmp_path, capsys):
    code = main(["render-samples", "--out", str(tmp_path), "--data-dir", str(tmp_path / "nowhere")])
    assert code == 2
    assert "expected an HDF5 file '3dshapes.h5'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--supersample", "0"], "supersample must be >= 1, got 0"),
        (["--benchmark-images", "-1"], "benchmark_images must be >= 0, got -1"),
    ],
)
def test_render_samples_rejects_bad_settings(tmp_path, capsys, flags, message):
    assert main(["render-samples", "--out", str(tmp_path), *flags]) == 2
    assert message in capsys.readouterr().err


@pytest.mark.parametrize("command", ["render-samples", "meta-svm", "disentanglement", "reproduce"])
@pytest.mark.parametrize("device", ["gpu", "cuda:99"])
def test_a_bad_device_is_a_message_naming_the_flag(command, device, tmp_path, capsys):
    if device == "cuda:99" and torch.cuda.device_count() > 99:
        pytest.skip("this machine has 100 GPUs")
    with pytest.raises(SystemExit) as stop:  # argparse: usage and one line, exit 2
        main([command, "--out", str(tmp_path), "--device", device])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "argument --device:" in err and "Traceback" not in err


def test_section2_refuses_cuda_it_does_not_have_before_any_work(tmp_path, capsys):
    if torch.cuda.is_available():
        pytest.skip("CUDA is available here")
    assert main(["sparse-generalization", "--out", str(tmp_path), "--device", "cuda"]) == 2
    assert "torch.cuda.is_available() is False" in capsys.readouterr().err


def test_plot_a_directory_or_a_file_of_another_experiment(tmp_path, capsys):
    assert main(["plot", str(tmp_path)]) == 2
    assert "is a directory without results.json" in capsys.readouterr().err
    rows = [{"head": "svm", "lam1": 0.1, "accuracy": 0.9, "sparsity": 0.5}]
    (tmp_path / "results.json").write_text(
        json.dumps({"experiment": "sparse-generalization", "config": {}, "rows": rows})
    )
    assert main(["plot", str(tmp_path)]) == 2  # the directory's results.json is read
    err = capsys.readouterr().err
    assert "lack ['method', 'n_samples', 'r2_mean']" in err and "'experiment' key" in err


def test_plot_rows_missing_keys_and_an_out_that_is_a_file(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"experiment": "meta-svm", "config": {}, "rows": [{"head": 1}]}))
    assert main(["plot", str(results)]) == 2
    assert "lack ['accuracy', 'lam1', 'sparsity']" in capsys.readouterr().err
    a_file = tmp_path / "taken"
    a_file.write_text("")
    assert main(["render-samples", "--out", str(a_file)]) == 2
    assert "is a file, not a directory" in capsys.readouterr().err


def test_val_every_beyond_steps_names_the_flags(tmp_path, capsys):
    assert (
        main(["disentanglement", "--preset", "quick", "--steps", "10", "--out", str(tmp_path)]) == 2
    )
    assert "lower --val-every or raise --steps" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command", ["sparse-generalization", "render-samples", "disentanglement", "meta-svm"]
)
def test_one_thread_policy_stated_by_every_command(command, tmp_path, capsys):
    from harness.devices import THREADS_HELP

    parser = build_parser()
    sub = parser._subparsers._group_actions[0].choices[command]
    (threads,) = [action for action in sub._actions if "--threads" in action.option_strings]
    assert threads.default == 1 and threads.help == THREADS_HELP
    with pytest.raises(SystemExit):
        main([command, "--out", str(tmp_path), "--threads", "0"])
    assert "argument --threads: must be >= 1, got 0" in capsys.readouterr().err
