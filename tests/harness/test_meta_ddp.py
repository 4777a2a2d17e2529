"""Two gloo processes on 127.0.0.1 (torchrun) follow the one-process loss trajectory when the
global batch is the same (each rank takes half of the step's episodes)."""

import json
import os
import socket
import subprocess
import sys

import pytest

ARGS = ["--steps", "3", "--image-size", "16", "--eval-episodes", "2", "--lam1", "0.3"]
ARGS += ["--no-ridge-reference"]
ARGS += ["--no-progress", "--threads", "1", "--val-every", "1000"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _run(command: list[str]) -> None:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]


def test_two_gloo_processes_match_one(tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    _run([sys.executable, "-m", "harness", "meta-svm", "--out", str(one), *ARGS])
    torchrun = [sys.executable, "-m", "torch.distributed.run", "--nnodes", "1"]
    torchrun += ["--nproc-per-node", "2", "--master-addr", "127.0.0.1"]
    torchrun += ["--master-port", str(_free_port())]
    _run([*torchrun, "-m", "harness", "meta-svm", "--out", str(two), *ARGS])
    rows = [json.loads((d / "results.json").read_text())["rows"][0] for d in (one, two)]
    assert json.loads((two / "results.json").read_text())["config"]["world_size"] == 2
    loss_one, loss_two = (r["history"]["loss"] for r in rows)
    assert len(loss_one) == len(loss_two) == 3
    assert loss_two == pytest.approx(loss_one, rel=1e-4, abs=1e-5)
