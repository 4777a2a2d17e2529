"""The public regularization scales: each is where its layer's solution becomes zero."""

import numpy as np
import pytest
import torch

import sparselayers.functional as SF
from sparselayers.solvers.svm_lambda_max import lam1_max, uniform_off_label, upper_bound


def _svm_tasks(B=3, n=15, m=12, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(k).repeat_interleave(n // k).expand(B, n).contiguous()
    means = torch.randn(B, k, m, generator=g, dtype=torch.float64)
    F = torch.randn(B, n, m, generator=g, dtype=torch.float64)
    F = F + means.gather(1, labels[..., None].expand(B, n, m))
    return torch.nn.functional.normalize(F, dim=-1), labels


def _cvxpy_lam1_max(F: np.ndarray, y: np.ndarray, k: int) -> float:
    import cvxpy as cp

    n, m = F.shape
    Y = np.eye(k)[y]
    L, t = cp.Variable((n, k)), cp.Variable()
    V = (Y - L).T @ F
    constraints = [L >= 0, cp.sum(L, axis=1) == 1, cp.multiply(L, Y) == 0]
    constraints += [cp.norm(V[:, j]) <= t for j in range(m)]
    cp.Problem(cp.Minimize(t), constraints).solve()
    return float(t.value)


def test_svm_lambda1_max_matches_the_cvxpy_program():
    F, labels = _svm_tasks()
    ours = SF.svm_lambda1_max(F, labels, num_classes=3, tol=1e-6)
    reference = [_cvxpy_lam1_max(F[b].numpy(), labels[b].numpy(), 3) for b in range(3)]
    np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-4)
    # The closed-form bound of the uniform dual point is an upper bound, often a loose one.
    Y = torch.nn.functional.one_hot(labels, 3).double()
    assert (upper_bound(uniform_off_label(Y), F, Y) >= ours).all()


@pytest.mark.parametrize("k", [2, 5])
def test_svm_head_is_zero_exactly_from_lambda1_max_on(k):
    F, labels = _svm_tasks(B=2, n=5 * k, m=20, k=k, seed=k)
    tol = 1e-5
    lam1 = SF.svm_lambda1_max(F, labels, num_classes=k, tol=tol)
    # Just above λ1_max the solver's dual point certifies W = 0 (at λ1_max itself the
    # solution is degenerate and an approximate dual leaves columns of size ~ the gap).
    above = SF.group_lasso_svm_dual(
        F, labels, lam1 * 1.01, 0.5, num_classes=k, tol=1e-9, max_iter=50_000
    )
    assert (above.weights == 0).all()
    below = SF.group_lasso_svm_dual(
        F, labels, lam1 * 0.98, 0.5, num_classes=k, tol=1e-9, max_iter=50_000
    )
    assert (below.weights.abs().sum((-2, -1)) > 0).all()


def test_svm_lambda1_max_certifies_its_interval_and_warns_when_short():
    F, labels = _svm_tasks(seed=3)
    Y = torch.nn.functional.one_hot(labels, 3).double()
    bounds = lam1_max(F, Y, tol=1e-3)
    assert bounds.converged.all()
    assert ((bounds.upper - bounds.lower) <= 1e-3 * bounds.upper).all()
    with pytest.warns(RuntimeWarning, match="lam1_max: relative gap"):
        short = SF.svm_lambda1_max(F, labels, num_classes=3, max_iter=3)
    assert (short >= bounds.lower).all()  # still a valid (looser) upper bound


def test_svm_lambda1_max_is_linear_in_the_features_and_broadcasts():
    F, labels = _svm_tasks(B=2)
    base = SF.svm_lambda1_max(F, labels, num_classes=3, tol=1e-6)
    np.testing.assert_allclose(
        SF.svm_lambda1_max(3 * F, labels, num_classes=3, tol=1e-6), 3 * base, rtol=1e-4
    )
    one = SF.svm_lambda1_max(F[0], labels[0], num_classes=3, tol=1e-6)
    assert one.shape == () and one.item() == pytest.approx(base[0].item(), rel=1e-4)
    assert SF.svm_lambda1_max(F.float(), labels, num_classes=3).dtype == torch.float32


def test_svm_lambda1_max_errors_name_the_argument():
    F, labels = _svm_tasks(B=1)
    with pytest.raises(ValueError, match="num_classes"):
        SF.svm_lambda1_max(F, labels, num_classes=1)
    with pytest.raises(ValueError, match="tol"):
        SF.svm_lambda1_max(F, labels, num_classes=3, tol=0.0)
    with pytest.raises(ValueError, match="labels"):
        SF.svm_lambda1_max(F, labels.double(), num_classes=3)
    with pytest.raises(ValueError, match="features"):
        SF.svm_lambda1_max(F[0, 0], labels, num_classes=3)


def test_group_lasso_lambda_max_is_where_the_solution_vanishes():
    g = torch.Generator().manual_seed(1)
    F = torch.randn(4, 20, 30, generator=g, dtype=torch.float64)
    y = torch.randn(4, 20, generator=g, dtype=torch.float64)
    lam = SF.group_lasso_lambda_max(F, y)
    np.testing.assert_allclose(lam.numpy(), (F.mT @ y[..., None]).abs().amax((-2, -1)) / 20)
    assert (SF.group_lasso(F, y, lam, tol=1e-10).weights == 0).all()
    below = SF.group_lasso(F, y, 0.99 * lam, tol=1e-10).weights
    assert ((below != 0).sum(-1) >= 1).all()
    # relative=True multiplies by the same scale.
    rel = SF.group_lasso(F, y, 0.3, relative=True, tol=1e-10).weights
    torch.testing.assert_close(rel, SF.group_lasso(F, y, 0.3 * lam, tol=1e-10).weights)


def test_ridge_scale_is_the_relative_scale():
    g = torch.Generator().manual_seed(2)
    F = torch.randn(3, 10, 6, generator=g, dtype=torch.float64)
    Y = torch.randn(3, 10, 2, generator=g, dtype=torch.float64)
    scale = SF.ridge_scale(F)
    torch.testing.assert_close(scale, (F**2).sum((-2, -1)) / 10)
    torch.testing.assert_close(
        SF.ridge(F, Y, 0.1, relative=True).weights, SF.ridge(F, Y, 0.1 * scale).weights
    )


def test_svm_lambda1_max_with_zero_feature_columns_in_float32():
    # Columns that are zero in every sample (dead ReLU units) must not produce 0/0.
    F, labels = _svm_tasks(B=2, m=10)
    F = torch.cat([F, torch.zeros(2, 15, 5, dtype=F.dtype)], -1)
    ours = SF.svm_lambda1_max(F.float(), labels, num_classes=3, tol=1e-3)
    assert torch.isfinite(ours).all()
    torch.testing.assert_close(
        ours.double(), SF.svm_lambda1_max(F[..., :10], labels, num_classes=3, tol=1e-6),
        rtol=2e-3, atol=0,
    )  # fmt: skip


def test_svm_lambda1_max_of_zero_features_is_zero_without_iterations():
    # Every task certified before any round (upper bound 0): the rounds must not run at all.
    _, labels = _svm_tasks(B=2)
    F = torch.zeros(2, 15, 70, dtype=torch.float64)
    bounds = lam1_max(F, torch.nn.functional.one_hot(labels, 3).double())
    assert bounds.n_iter == 0 and bounds.converged.all() and (bounds.upper == 0).all()


def test_svm_lambda1_max_of_a_task_does_not_depend_on_its_batch():
    # Under data parallelism a task meets other batchmates: its λ1_max must be the same.
    F, labels = _svm_tasks(B=4, seed=5)
    together = SF.svm_lambda1_max(F, labels, num_classes=3, tol=1e-2)
    for b in range(4):
        alone = SF.svm_lambda1_max(F[b : b + 1], labels[b : b + 1], num_classes=3, tol=1e-2)
        torch.testing.assert_close(alone[0], together[b], rtol=1e-12, atol=0)


def test_svm_lambda1_max_refuses_bad_values():
    F, labels = _svm_tasks(B=2)
    with pytest.raises(ValueError, match="features"):
        SF.svm_lambda1_max(F.clone().fill_(float("nan")), labels, num_classes=3)
    with pytest.raises(ValueError, match="labels"):
        SF.svm_lambda1_max(F, labels + 5, num_classes=3)
    with pytest.raises(ValueError, match="labels"):
        SF.svm_lambda1_max(F, labels[:, None].expand(2, 3, 15), num_classes=3)


def test_svm_lambda1_max_on_working_sets_of_columns_equals_all_columns(monkeypatch):
    """With more columns than the first working set (m = 200 > 64), the bounds stay certified
    for the whole problem: the same value as the iterations on every column, to the tolerance,
    and a task still does not depend on its batch."""
    import sparselayers.solvers.svm_lambda_max as module

    F, labels = _svm_tasks(B=3, m=200, seed=3)
    Y = torch.nn.functional.one_hot(labels, 3).to(F.dtype)
    sets = module.lam1_max(F, Y, tol=1e-4)
    assert bool(sets.converged.all())
    monkeypatch.setattr(module, "FIRST_COLUMNS", 10**9)  # every column from the start
    whole = module.lam1_max(F, Y, tol=1e-4)
    torch.testing.assert_close(sets.upper, whole.upper, rtol=2e-4, atol=0)
    assert bool((sets.lower <= whole.upper).all()) and bool((whole.lower <= sets.upper).all())
    monkeypatch.undo()
    for b in range(3):
        alone = module.lam1_max(F[b : b + 1], Y[b : b + 1], tol=1e-4)
        torch.testing.assert_close(alone.upper[0], sets.upper[b], rtol=1e-12, atol=0)


def _relu_tasks(B=3, n=20, m=300, k=4, seed=0):
    """Normalized non-negative, correlated features (as after a ReLU backbone): the family on
    which the primal–dual iterations need thousands of iterations."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(k).repeat_interleave(n // k).expand(B, n).contiguous()
    shared = torch.randn(B, 1, m, generator=g, dtype=torch.float64)
    means = 0.3 * torch.randn(B, k, m, generator=g, dtype=torch.float64)
    noise = 0.5 * torch.randn(B, n, m, generator=g, dtype=torch.float64)
    F = torch.relu(shared + means.gather(1, labels[..., None].expand(B, n, m)) + noise)
    return torch.nn.functional.normalize(F, dim=-1), labels


def test_svm_lambda1_max_barrier_rounds_certify_relu_features_against_cvxpy():
    from sparselayers.solvers import svm_lambda_max

    F, labels = _relu_tasks()
    Y = torch.nn.functional.one_hot(labels, 4).double()
    L = uniform_off_label(Y)
    upper = upper_bound(L, F, Y)
    # The barrier rounds alone (no primal–dual fallback), from a working set smaller than m.
    assert svm_lambda_max.FIRST_BARRIER_COLUMNS < F.shape[-1]
    start = svm_lambda_max._Progress(L, upper, torch.zeros_like(upper), upper <= 0, 0)
    state = svm_lambda_max._barrier_rounds(F, Y, start, 1e-6, 10_000)
    upper, lower, converged, steps = state.upper, state.lower, state.converged, state.n_iter
    assert converged.all() and steps < 500
    assert ((upper - lower) <= 1e-6 * upper).all()
    reference = [_cvxpy_lam1_max(F[b].numpy(), labels[b].numpy(), 4) for b in range(3)]
    np.testing.assert_allclose(upper.numpy(), reference, rtol=1e-5)


def test_svm_lambda1_max_with_growing_working_sets_does_not_depend_on_the_batch(monkeypatch):
    # Tasks of one batch grow their working sets by different amounts (padded to one width).
    from sparselayers.solvers import svm_lambda_max

    sizes = []
    barrier = svm_lambda_max.barrier_saddle_point

    def recording(F, Y, live, *args):
        sizes.append(live.sum(-1).tolist())
        return barrier(F, Y, live, *args)

    monkeypatch.setattr(svm_lambda_max, "barrier_saddle_point", recording)
    F, labels = _relu_tasks(B=4, n=40, m=1000, k=5, seed=1)
    together = lam1_max(F, torch.nn.functional.one_hot(labels, 5).double(), tol=1e-4)
    assert together.converged.all()
    assert any(len(set(round_sizes)) > 1 for round_sizes in sizes)
    for b in range(4):
        Y = torch.nn.functional.one_hot(labels[b : b + 1], 5).double()
        alone = lam1_max(F[b : b + 1], Y, tol=1e-4)
        # The value returned (the upper bound) is equal up to the rounding of batched products
        # and factorizations (~1e-11 here); both intervals are certified and overlap.
        torch.testing.assert_close(alone.upper[0], together.upper[b], rtol=1e-9, atol=0)
        assert alone.converged.all()
        assert max(alone.lower[0], together.lower[b]) <= min(alone.upper[0], together.upper[b])
