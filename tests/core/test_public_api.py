"""The public import paths are part of the contract."""

from pathlib import Path

import sparselayers
import sparselayers.functional as F


def test_public_names():
    assert set(sparselayers.__all__) >= {
        "GroupLassoRegression",
        "RidgeRegression",
        "L21OuterPenalty",
        "RegressionSolution",
        "functional",
    }
    assert {"group_lasso", "ridge", "l21_norm"} <= set(F.__all__)
    for name in sparselayers.__all__:
        assert hasattr(sparselayers, name)


def test_typed_package():
    assert (Path(sparselayers.__file__).parent / "py.typed").exists()
