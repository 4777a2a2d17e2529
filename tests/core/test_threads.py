"""Correct after ``torch.set_num_threads(2)``, which breaks the batched LU of the torch 2.13 CPU
build on matrices of size ≳ 150 (errors, or garbage with info = 0): the layers use Cholesky
and an SVD fallback instead (`sparselayers.ops.linear`). Each setting runs in a fresh process,
since the thread setting is process-global."""

import subprocess
import sys
from pathlib import Path

import torch

PROBE = Path(__file__).with_name("_threads_probe.py")


def _probe(out: Path, *threads: str) -> dict[str, torch.Tensor]:
    done = subprocess.run(
        [sys.executable, str(PROBE), str(out), *threads], capture_output=True, text=True,
        timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return torch.load(out)


def test_large_systems_are_solved_correctly_after_set_num_threads(tmp_path):
    default = _probe(tmp_path / "default.pt")
    two = _probe(tmp_path / "two.pt", "2")
    for name, value in default.items():
        torch.testing.assert_close(two[name], value, rtol=1e-8, atol=1e-10, msg=name)
    # The systems were large enough to hit the bug: > 150 active features in the Lasso.
    assert int((default["lasso"] != 0).sum(-1).min()) > 150


def test_solve_symmetric_falls_back_to_the_minimum_norm_solution():
    from sparselayers.ops.linear import solve_symmetric

    g = torch.Generator().manual_seed(3)
    M = torch.randn(2, 6, 3, generator=g, dtype=torch.float64)
    A = M @ M.mT  # rank 3 of 6: not positive definite
    A[0] += torch.eye(6, dtype=torch.float64)  # task 0 is
    B = torch.randn(2, 6, 2, generator=g, dtype=torch.float64)
    X = solve_symmetric(A, B)
    torch.testing.assert_close(X[0], torch.linalg.lstsq(A[0], B[0]).solution)
    torch.testing.assert_close(X[1], torch.linalg.pinv(A[1]) @ B[1])


def test_pseudo_inverse_of_singular_face_systems_with_one_thread(tmp_path):
    """Two singular face systems of the SVM head met in training (float32): with one torch
    thread, the batched ``eigh`` behind ``pinv(hermitian=True)`` returned NaN for the second;
    the SVD-based `pinv` does not."""
    data = Path(__file__).with_name("data") / "svm_face_systems_float32.pt"
    script = (
        "import sys, torch; torch.set_num_threads(1)\n"
        "from sparselayers.ops.linear import pinv\n"
        f"M = torch.load({str(data)!r})\n"
        "P = pinv(M)\n"
        "assert torch.isfinite(P).all(), 'non-finite pseudo-inverse'\n"
        "M, P = M.double(), P.double()\n"
        "err = ((M @ P @ M - M).abs().max() / M.abs().max()).item()  # M P M = M\n"
        "assert err < 1e-4, err\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
