"""The nn.Module adapters: same results as the functional forms, trainable lam, no upcast."""

import torch
from torch import nn

import sparselayers as sl
from tests.core.conftest import regression_problem


def test_modules_match_functional_forms():
    F, Y = regression_problem(tasks=(3,), n=20, m=6, k=2)
    layer = sl.GroupLassoRegression(0.1, relative=True, tol=1e-10)
    torch.testing.assert_close(
        layer(F, Y), sl.functional.group_lasso(F, Y, 0.1, relative=True, tol=1e-10).weights
    )
    assert layer(F, Y).shape == (3, 2, 6)
    torch.testing.assert_close(
        sl.RidgeRegression(0.5)(F, Y), sl.functional.ridge(F, Y, 0.5).weights
    )
    solution = layer.solve(F, Y)
    assert solution.gap.shape == (3,) and bool(solution.converged.all())
    assert "relative=True" in repr(layer)


def test_learnable_lam_is_a_parameter_and_gets_a_gradient():
    F, y = regression_problem(tasks=(4,), n=20, m=6)
    layer = sl.GroupLassoRegression(nn.Parameter(torch.tensor(0.1, dtype=torch.float64)))
    assert [name for name, _ in layer.named_parameters()] == ["lam"]
    layer(F, y).pow(2).sum().backward()
    assert layer.lam.grad is not None and float(layer.lam.grad) < 0  # more lam, smaller W


def test_training_through_the_layer_reduces_the_outer_loss():
    torch.manual_seed(0)
    F, y = regression_problem(tasks=(8,), n=30, m=6, dtype=torch.float32)
    encoder = nn.Linear(6, 6)
    layer = sl.GroupLassoRegression(0.05, relative=True)
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        Z = encoder(F)
        W = layer(Z, y)
        loss = ((Z @ W.unsqueeze(-1))[..., 0] - y).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(float(loss.detach()))
    assert losses[-1] < losses[0]


def test_float32_stays_float32():
    F, y = regression_problem(dtype=torch.float32)
    for layer in (sl.GroupLassoRegression(0.1), sl.RidgeRegression(0.1)):
        assert layer(F, y).dtype == torch.float32
    assert sl.L21OuterPenalty(0.1)(torch.ones(2, 3, 4)).dtype == torch.float32
