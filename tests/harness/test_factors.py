import numpy as np
import pytest
import torch

from harness.data.factors import FACTOR_NAMES, FactorGrid, shapes3d_grid


def test_shapes3d_grid_matches_the_real_dataset():
    grid = shapes3d_grid()
    assert grid.sizes == (10, 10, 10, 8, 4, 15)
    assert grid.num_points == 480_000
    np.testing.assert_allclose(grid.values[0], np.arange(10) / 10)
    np.testing.assert_allclose(grid.values[3], np.linspace(0.75, 1.25, 8))
    np.testing.assert_allclose(grid.values[5], np.linspace(-30, 30, 15))
    assert len(FACTOR_NAMES) == 6


def test_flat_index_order_is_orientation_fastest():
    grid = shapes3d_grid()
    index = torch.tensor([0, 1, 15, 60, 479_999])
    factor_index = grid.unravel(index)
    assert factor_index[1].tolist() == [0, 0, 0, 0, 0, 1]
    assert factor_index[2].tolist() == [0, 0, 0, 0, 1, 0]
    assert factor_index[3].tolist() == [0, 0, 0, 1, 0, 0]
    assert factor_index[4].tolist() == [9, 9, 9, 7, 3, 14]
    assert torch.equal(grid.ravel(factor_index), index)
    assert grid.values_at(index)[4].tolist() == pytest.approx([0.9, 0.9, 0.9, 1.25, 3.0, 30.0])


def test_grid_rejects_bad_values():
    with pytest.raises(ValueError, match="values"):
        FactorGrid(values=(np.arange(3.0),))
    with pytest.raises(ValueError, match="increasing"):
        FactorGrid(values=(np.array([1.0, 0.0]),) + (np.arange(2.0),) * 5)
