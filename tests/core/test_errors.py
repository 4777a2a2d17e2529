"""Every bad input gets a ValueError that names the argument."""

import pytest
import torch

import sparselayers as sl
from tests.core.conftest import regression_problem

F, y = regression_problem()


@pytest.mark.parametrize("fn", [sl.functional.group_lasso, sl.functional.ridge])
@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(features=F.numpy(), targets=y, lam=0.1), "features must be a torch.Tensor"),
        (dict(features=F.long(), targets=y, lam=0.1), "features must be a floating-point"),
        (dict(features=F[0, 0], targets=y, lam=0.1), r"features must have shape \(\.\.\., n, m\)"),
        (dict(features=F, targets=y[..., :5], lam=0.1), "targets has 5 samples"),
        (dict(features=F, targets=y[0, 0], lam=0.1), r"targets must have shape \(\.\.\., n\)"),
        (dict(features=F, targets=y.float(), lam=0.1), "targets has dtype torch.float32"),
        (dict(features=F, targets=y, lam=-0.1), "lam must be finite and non-negative"),
        (dict(features=F, targets=y, lam=float("nan")), "lam must be finite"),
        (dict(features=F, targets=y, lam="big"), "lam must be a float or a tensor"),
        (dict(features=F, targets=y, lam=torch.ones(4, dtype=torch.float64)), "lam of shape"),
        (dict(features=F, targets=y, lam=-torch.ones(3, dtype=torch.float64)), "lam must be non"),
        (dict(features=F, targets=y, lam=torch.ones(3)), "lam has dtype torch.float32"),
        (dict(features=F, targets=y, lam=0.1, backward="magic"), "backward must be one of"),
        (dict(features=F, targets=y, lam=0.1, tol=-1.0), "tol must be a positive"),
        (dict(features=F, targets=y, lam=0.1, max_iter=0), "max_iter must be a positive int"),
        (dict(features=F.float(), targets=y.float(), lam=0.1, backward="cvxpy"), "float64 CPU"),
    ],
)
def test_bad_input(fn, kwargs, match):
    with pytest.raises(ValueError, match=match):
        fn(**kwargs)


@pytest.mark.parametrize("name", ["features", "targets"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nan_and_inf(name, bad):
    inputs = {"features": F.clone(), "targets": y.clone()}
    inputs[name].view(-1)[3] = bad
    with pytest.raises(ValueError, match=f"{name} contains NaN or Inf"):
        sl.functional.group_lasso(inputs["features"], inputs["targets"], 0.1)


def test_mismatched_batch_dims():
    with pytest.raises(ValueError, match="leading .task. dims"):
        sl.functional.group_lasso(F, torch.zeros(4, 20, dtype=torch.float64), 0.1)


def test_bad_warm_start():
    with pytest.raises(ValueError, match="warm_start must have the shape"):
        sl.functional.group_lasso(F, y, 0.1, warm_start=torch.zeros(3, 5, dtype=torch.float64))


def test_layer_validates_at_construction():
    with pytest.raises(ValueError, match="backward must be one of"):
        sl.GroupLassoRegression(0.1, backward="implict")
    with pytest.raises(ValueError, match="lam must be finite and non-negative"):
        sl.RidgeRegression(-1.0)
    with pytest.raises(ValueError, match="tol must be"):
        sl.GroupLassoRegression(0.1, tol=0)


def test_l21_needs_a_tensor():
    with pytest.raises(ValueError, match="weights must be a torch.Tensor"):
        sl.functional.l21_norm([1.0, 2.0])
