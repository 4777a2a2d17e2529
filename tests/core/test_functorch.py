"""torch.func transforms on the functional forms (implicit mode)."""

import pytest
import torch
from torch.func import grad, jacrev, vmap

import sparselayers as sl
from tests.core.conftest import regression_problem


def lasso(F, y):
    # Absolute lam: a relative one is detached from y, which finite differences would see.
    return sl.functional.group_lasso(F, y, 0.1, tol=1e-12).weights


def ridge(F, y):
    return sl.functional.ridge(F, y, 0.3).weights


@pytest.mark.parametrize("fn", [lasso, ridge])
def test_vmap_equals_batched_call(fn):
    F, y = regression_problem(tasks=(4,), n=20, m=6)
    torch.testing.assert_close(vmap(fn)(F, y), fn(F, y))
    torch.testing.assert_close(vmap(fn, in_dims=(0, None))(F, y[0]), fn(F, y[0].expand(4, 20)))
    nested = vmap(vmap(fn))(F.reshape(2, 2, 20, 6), y.reshape(2, 2, 20))
    torch.testing.assert_close(nested.reshape(4, 6), fn(F, y))


@pytest.mark.parametrize("fn", [lasso, ridge])
def test_jacrev_equals_explicit_jacobian(fn):
    F, y = regression_problem(tasks=(), n=15, m=5)
    assert 0 < int((fn(F, y) != 0).sum()) < 5 or fn is ridge
    J = jacrev(fn, argnums=(0, 1))(F, y)
    # Explicit Jacobian, one backward pass per output coordinate.
    for j in range(5):
        Ft, yt = F.clone().requires_grad_(True), y.clone().requires_grad_(True)
        fn(Ft, yt)[j].backward()
        torch.testing.assert_close(J[0][j], Ft.grad)
        torch.testing.assert_close(J[1][j], yt.grad)
    # ... and central finite differences in y.
    h = 1e-6
    for i in range(0, 15, 4):
        e = torch.zeros_like(y)
        e[i] = h
        column = (fn(F, y + e) - fn(F, y - e)) / (2 * h)
        torch.testing.assert_close(J[1][:, i], column, rtol=1e-6, atol=1e-8)


def test_grad_and_vmap_of_jacrev():
    F, y = regression_problem(tasks=(3,), n=15, m=5)
    g = grad(lambda F, y: lasso(F, y).pow(2).sum())(F, y)
    Ft = F.clone().requires_grad_(True)
    lasso(Ft, y).pow(2).sum().backward()
    torch.testing.assert_close(g, Ft.grad)
    batched = vmap(jacrev(lasso, argnums=1))(F, y)
    for t in range(3):
        torch.testing.assert_close(batched[t], jacrev(lasso, argnums=1)(F[t], y[t]))
