"""Shared fixtures of the harness tests."""

import pytest
import torch

from harness.data.factors import FactorGrid
from tests.harness.helpers import tiny_grid, write_shapes_file


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each harness test on one torch thread: its tensors are small, and on a busy 2-core
    machine OpenMP threads waiting on each other made tests several times slower."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="session")
def small_grid() -> FactorGrid:
    """A 2 x 2 x 2 x 2 x 4 x 3 grid (192 points) with real 3D Shapes values."""
    return tiny_grid()


@pytest.fixture(name="write_shapes_file")
def _write_shapes_file_fixture():
    """`write_shapes_file`, as a fixture (needs no import of the ``tests`` package)."""
    return write_shapes_file
