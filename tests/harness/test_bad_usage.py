"""Issue 16's list of bad usage, case by case: a message, exit status 2 (130 for Ctrl-C), no
traceback.

Each case builds its command (and the files it needs) and names what stderr must say. Covered
elsewhere as well, and kept there: ``tests/harness/test_cli.py`` (the bad device of every
command, plot errors, ``--steps`` below ``--val-every``), and the library's case, ``vmap`` over
``backward="unroll"``, in ``tests/core/test_holes.py::
test_vmap_over_the_unrolled_mode_is_a_clear_error``.
"""

import json
import signal
import time
from pathlib import Path

import pytest
import torch

from harness.cli import experiment_module, main
from harness.workers import worker_pool


def _device_gpu(tmp: Path) -> tuple[list[str], int, str]:
    return (
        ["disentanglement", "--out", str(tmp), "--device", "gpu"],
        2,
        ("argument --device: 'gpu' is not a torch device; use cpu, cuda or cuda:K"),
    )


def _cuda_without_cuda(tmp: Path) -> tuple[list[str], int, str]:
    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    argv = ["sparse-generalization", "--out", str(tmp), "--device", "cuda"]
    return argv, 2, "torch.cuda.is_available() is False"


def _plot_a_run_directory(tmp: Path) -> tuple[list[str], int, str]:
    (tmp / "runs" / "some-run").mkdir(parents=True)
    return ["plot", str(tmp)], 2, "is a directory without results.json"


def _plot_rows_missing_keys(tmp: Path) -> tuple[list[str], int, str]:
    results = {"experiment": "disentanglement", "config": {}, "rows": [{"method": "x"}]}
    (tmp / "results.json").write_text(json.dumps(results))
    return ["plot", str(tmp / "results.json")], 2, "lack ['lam', 'mcc']"


def _out_is_a_file(tmp: Path) -> tuple[list[str], int, str]:
    (tmp / "taken").write_text("")
    argv = ["disentanglement", "--preset", "smoke", "--out", str(tmp / "taken")]
    return argv, 2, "is a file, not a directory"


def _results_of_another_experiment(tmp: Path) -> tuple[list[str], int, str]:
    # Rows of Fig. 5 (meta-svm) labelled as Section 2's: refused, not plotted empty.
    rows = [{"head": "svm", "lam1": 0.1, "accuracy": 0.9, "sparsity": 0.5}]
    (tmp / "results.json").write_text(
        json.dumps({"experiment": "sparse-generalization", "config": {}, "rows": rows})
    )
    return ["plot", str(tmp / "results.json")], 2, "is its 'experiment' key right?"


def _results_without_rows(tmp: Path) -> tuple[list[str], int, str]:
    (tmp / "results.json").write_text(json.dumps({"experiment": "meta-svm", "rows": []}))
    return ["plot", str(tmp / "results.json")], 2, "has no rows to plot"


def _steps_below_val_every(tmp: Path) -> tuple[list[str], int, str]:
    argv = ["disentanglement", "--preset", "quick", "--steps", "10", "--out", str(tmp)]
    return argv, 2, "val_every (250) exceeds steps (10): lower --val-every or raise --steps"


CASES = {
    "--device gpu": _device_gpu,
    "sparse-generalization --device cuda without CUDA": _cuda_without_cuda,
    "plot DIR on a run directory": _plot_a_run_directory,
    "plot on rows missing keys": _plot_rows_missing_keys,
    "--out an existing file": _out_is_a_file,
    "a results file of another experiment": _results_of_another_experiment,
    "a results file without rows": _results_without_rows,
    "--steps 10 with the default --val-every": _steps_below_val_every,
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_usage_is_a_message(case, tmp_path, capsys):
    argv, code, message = CASES[case](tmp_path)
    try:
        status = main(argv)
    except SystemExit as stop:  # argparse: usage, one line, exit 2
        status = stop.code
    captured = capsys.readouterr()
    assert status == code
    assert message in captured.err
    assert "Traceback" not in captured.err + captured.out


def _interrupt(args):
    raise KeyboardInterrupt


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (
            ["meta-svm", "--steps", "2", "--out", "OUT"],
            "interrupted: checkpoints and finished runs are in OUT; resume: python -m harness "
            "meta-svm --steps 2 --out OUT",
        ),
        (
            ["disentanglement", "--preset", "smoke", "--sweep", "lambda"],
            "interrupted: checkpoints and finished runs are in runs/disentanglement/"
            "smoke_lambda-*; resume: python -m harness disentanglement --preset smoke --sweep "
            "lambda (the same command: its default --out is that directory)",
        ),
        (
            ["sparse-generalization", "--seeds", "2", "--out", "OUT"],
            "interrupted: this command keeps no checkpoint; run it again: python -m harness "
            "sparse-generalization --seeds 2 --out OUT",
        ),
    ],
)
def test_ctrl_c_prints_one_line_with_the_checkpoints_and_the_resume_command(
    argv, expected, tmp_path, capsys, monkeypatch
):
    import fnmatch

    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(experiment_module(argv[0]), "run", _interrupt)
    argv = [str(tmp_path / "out") if a == "OUT" else a for a in argv]
    assert main(argv) == 130
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in captured.err
    assert fnmatch.fnmatchcase(lines[0], expected.replace("OUT", str(tmp_path / "out")))


def test_ctrl_c_ends_the_worker_processes_at_once(tmp_path):
    # Ctrl-C reaches every process of the terminal's group: the workers ignore it (no
    # traceback of theirs), and the parent does not wait for the runs in flight.
    with worker_pool(2) as pool:
        assert pool.submit(signal.getsignal, signal.SIGINT).result() == signal.SIG_IGN
    with pytest.raises(KeyboardInterrupt), worker_pool(2) as pool:
        assert pool.submit(abs, -1).result() == 1  # the workers are up
        running = [pool.submit(time.sleep, 120) for _ in range(3)]
        time.sleep(0.5)
        begin = time.perf_counter()
        raise KeyboardInterrupt
    assert time.perf_counter() - begin < 30
    assert all(f.done() for f in running)


def test_ctrl_c_of_a_real_sweep_with_workers_is_one_line(tmp_path):
    # The terminal's Ctrl-C: SIGINT to the whole process group, while two workers train.
    import os
    import subprocess
    import sys

    root = Path(__file__).parents[2]
    argv = [sys.executable, "-u", "-m", "harness", "disentanglement", "--sweep", "lambda"]
    argv += ["--methods", "inner-lasso", "--lams", "0.1", "0.3", "--workers", "2"]
    env = {**os.environ, "PYTHONPATH": str(root), "PYTHONWARNINGS": "ignore::RuntimeWarning"}
    process = subprocess.Popen(
        argv,
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    try:
        for line in process.stdout:
            if "training runs to do" in line:  # the pool is starting
                break
        time.sleep(8.0)
        os.killpg(process.pid, signal.SIGINT)
        out, err = process.communicate(timeout=90)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("interrupted: checkpoints and finished runs are in runs/")
    assert lines[0].endswith("(the same command: its default --out is that directory)")
