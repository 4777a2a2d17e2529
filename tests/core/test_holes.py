"""Holes a robustness probe found: each case failed (raw error, silent wrong answer or a
missing warning) before it was fixed."""

import pytest
import torch

import sparselayers as sl
import sparselayers.functional as SF


def _svm(tasks=(2,), n=9, m=6, k=3, seed=0):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(k).repeat(n // k).expand(*tasks, n).contiguous()
    return torch.randn(*tasks, n, m, generator=g, dtype=torch.float64), labels


@pytest.mark.parametrize("lam1", [0.0, 0.3])
@pytest.mark.parametrize("backward", ["implicit", "unroll"])
def test_svm_warns_with_the_gap_when_max_iter_is_reached(lam1, backward):
    # λ1 = 0 in implicit mode used to stop silently when max_iter <= 300 (gap up to 1.0).
    F, labels = _svm()
    with pytest.warns(RuntimeWarning, match="duality gap reached"):
        sol = SF.group_lasso_svm_dual(
            F, labels, lam1, 1.0, num_classes=3, backward=backward, tol=1e-12, max_iter=2
        )
    assert not bool(sol.converged.all())


def test_svm_task_dims_that_do_not_broadcast_are_named():
    F, labels = _svm(tasks=(2,))
    with pytest.raises(ValueError, match="labels of shape .* do not broadcast"):
        SF.group_lasso_svm_dual(F, labels[:1].expand(3, 9), 0.1, 1.0, num_classes=3)


def test_l21_group_dim_out_of_range_is_named():
    W = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="group_dim must be in"):
        SF.l21_norm(W, group_dim=3)
    with pytest.raises(ValueError, match="group_dim must be an int"):
        SF.l21_norm(W, group_dim=1.0)
    with pytest.raises(ValueError, match="group_dim"):
        sl.L21OuterPenalty(0.1, group_dim="outputs")


@pytest.mark.parametrize(
    "lam, match",
    [
        (torch.tensor([-0.1, 0.2]), "lam must be non-negative"),
        (torch.tensor([float("nan"), 0.2]), "lam contains NaN or Inf"),
        (torch.tensor([1, 2]), "lam must be a floating-point tensor"),
    ],
)
def test_l21_penalty_refuses_a_bad_tensor_lam(lam, match):
    with pytest.raises(ValueError, match=match):
        sl.L21OuterPenalty(lam)


def test_l21_penalty_lam_of_the_wrong_shape_is_named():
    penalty = sl.L21OuterPenalty(torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="lam of shape"):
        penalty(torch.randn(2, 3, 4))
    assert penalty(torch.randn(3, 3, 4)).shape == (3,)
    with pytest.raises(ValueError, match="lam has dtype"):
        penalty(torch.randn(3, 3, 4, dtype=torch.float64))


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_features_get_a_clear_error(dtype):
    F = torch.randn(2, 8, 4).to(dtype)
    y = torch.randn(2, 8).to(dtype)
    for call in (
        lambda: SF.group_lasso(F, y, 0.1),
        lambda: SF.ridge(F, y, 0.1),
        lambda: SF.group_lasso_svm_dual(F, torch.arange(2).repeat(4).expand(2, 8), 0.1, 1.0,
                                        num_classes=2),
        lambda: SF.svm_lambda1_max(F, torch.arange(2).repeat(4).expand(2, 8), num_classes=2),
    ):  # fmt: skip
        with pytest.raises(ValueError, match=f"features has dtype {dtype}"):
            call()


def test_cvxpy_reference_warns_when_its_answer_misses_tol():
    # At features × 1e-6 SCS stops early; the reference used to return weights 46-100 % off
    # with converged=False and no warning of ours.
    g = torch.Generator().manual_seed(0)
    F = 1e-6 * torch.randn(2, 8, 4, generator=g, dtype=torch.float64)
    y = torch.randn(2, 8, generator=g, dtype=torch.float64)
    lam = 0.1 * SF.group_lasso_lambda_max(F, y)
    with pytest.warns(RuntimeWarning, match="backward='cvxpy'.*duality gap reached"):
        sol = SF.group_lasso(F, y, lam, backward="cvxpy", tol=1e-9)
    assert not bool(sol.converged.all())


def _labels(tasks, n, k=3):
    return torch.arange(k).repeat(n // k + 1)[:n].expand(*tasks, n).contiguous()


EMPTY = {
    "group_lasso": lambda F, backward: SF.group_lasso(
        F, torch.ones(F.shape[:-1], dtype=F.dtype), 0.1, backward=backward
    ),
    "group_lasso_k": lambda F, backward: SF.group_lasso(
        F, torch.ones(*F.shape[:-1], 2, dtype=F.dtype), 0.1, backward=backward
    ),
    "ridge": lambda F, backward: SF.ridge(
        F, torch.ones(F.shape[:-1], dtype=F.dtype), 0.1, backward=backward
    ),
    "svm_lam1_0": lambda F, backward: SF.group_lasso_svm_dual(
        F, _labels(F.shape[:-2], F.shape[-2]), 0.0, 1.0, num_classes=3, backward=backward
    ),
    "svm_lam1_pos": lambda F, backward: SF.group_lasso_svm_dual(
        F, _labels(F.shape[:-2], F.shape[-2]), 0.2, 1.0, num_classes=3, backward=backward
    ),
}


@pytest.mark.parametrize("layer", sorted(EMPTY))
@pytest.mark.parametrize("backward", ["implicit", "unroll", "cvxpy"])
@pytest.mark.parametrize("shape", [(0, 6, 4), (2, 6, 0), (0, 6, 0)])
def test_zero_tasks_or_no_features_give_the_empty_solution(layer, backward, shape):
    # Used to fail with raw reshape / max() / cvxpy errors. The math defines the answer: W has
    # no entries, every task is solved exactly.
    F = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    sol = EMPTY[layer](F, backward)
    assert sol.weights.numel() == 0 and sol.weights.shape[:1] == shape[:1]
    assert sol.weights.shape[-1] == shape[-1] and bool(sol.converged.all())
    sol.weights.sum().backward()  # the graph is connected: gradients are zeros of F's shape
    assert F.grad.shape == F.shape


@pytest.mark.parametrize("layer", sorted(EMPTY))
def test_no_samples_is_an_error_naming_features(layer):
    # Ridge used to return NaN silently; the others failed with raw reshape errors.
    with pytest.raises(ValueError, match="features must have at least one sample"):
        EMPTY[layer](torch.randn(2, 0, 4, dtype=torch.float64), "implicit")


def test_scales_of_empty_problems():
    assert SF.group_lasso_lambda_max(torch.randn(2, 6, 0), torch.randn(2, 6)).tolist() == [0, 0]
    labels = _labels((2,), 6)
    assert SF.svm_lambda1_max(torch.randn(2, 6, 0), labels, num_classes=3).tolist() == [0, 0]
    assert SF.ridge_scale(torch.randn(0, 6, 3)).shape == (0,)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("backward", ["implicit", "unroll"])
@pytest.mark.parametrize("scale", [1e3, 1e6])
def test_svm_head_converges_on_scaled_features(scale, backward, dtype):
    """Features scaled by ``s``: the head is the unscaled one with ``lam2 / s²``, its weights
    scale by ``1 / s`` and the dual sits within ``lam2 / s²`` of its vertex (which the solvers'
    offsets ``Y - Λ`` resolve). Certified by the gap, equal scores, and far better than W = 0."""
    g = torch.Generator().manual_seed(4)
    F = torch.randn(3, 15, 40, generator=g, dtype=torch.float64)
    labels = torch.arange(5).repeat(3).expand(3, 15)
    scaled = sl.functional.group_lasso_svm_dual(
        (scale * F).to(dtype), labels, 0.0, 1.0, num_classes=5, backward=backward
    )
    assert bool(scaled.converged.all()) and float(scaled.gap.max()) <= 1e-6
    unscaled = sl.functional.group_lasso_svm_dual(
        F, labels, 0.0, 1.0 / scale**2, num_classes=5, tol=1e-12
    )
    torch.testing.assert_close(
        scale * scaled.weights.double(), unscaled.weights, rtol=2e-3, atol=2e-3 * scale
    )
    scores = (scale * F) @ scaled.weights.double().mT
    Y = torch.nn.functional.one_hot(labels, 5).double()
    hinge = ((scores + 1 - Y).amax(-1) - (scores * Y).sum(-1)).sum(-1)
    assert bool((hinge < 0.1 * 15).all())  # W = 0 costs n = 15


def test_a_tol_float32_cannot_certify_is_raised_with_a_warning():
    g = torch.Generator().manual_seed(6)
    F = torch.relu(torch.randn(4, 25, 400, generator=g) + 0.3) / 20
    labels = torch.arange(5).repeat(5).expand(4, 25)
    default = sl.functional.group_lasso_svm_dual(F, labels, 0.0, 1.0, num_classes=5)
    with pytest.warns(RuntimeWarning, match="below the relative duality gap that float32"):
        tight = sl.functional.group_lasso_svm_dual(F, labels, 0.0, 1.0, num_classes=5, tol=1e-9)
    assert bool(tight.converged.all()) and int(tight.n_iter.max()) < 1000
    assert float(tight.gap.max()) <= max(float(default.gap.max()), 4.8e-7)
    with pytest.warns(RuntimeWarning, match="float32 can certify"):
        sl.functional.group_lasso(F[..., :10], F[..., 0], 0.1, relative=True, tol=1e-9)


def test_proximal_gradient_returns_its_best_point_when_out_of_iterations():
    """FISTA is not monotone: a task that runs out of iterations returns the iterate of
    smallest gap among those checked, not the last one."""
    from sparselayers.problems import GROUP_LASSO
    from sparselayers.solvers.apg import fista_loop
    from sparselayers.solvers.options import SolverOptions

    g = torch.Generator().manual_seed(8)
    F = torch.randn(16, 30, 60, generator=g, dtype=torch.float64)
    Y = torch.randn(16, 30, 2, generator=g, dtype=torch.float64)
    lam = 0.05 * GROUP_LASSO.lambda_max(F, Y)
    options = SolverOptions(tol=1e-14, max_iter=200, check_every=1, polish_steps=0)
    B, gap, _, done = fista_loop(GROUP_LASSO, (F, Y, lam), options, None)
    assert not bool(done.any())
    # every checked iterate's gap, recomputed along the same run
    best = torch.full_like(gap, torch.inf)
    for it in range(1, 201):
        X, _, _, _ = fista_loop(
            GROUP_LASSO, (F, Y, lam), SolverOptions(tol=1e-14, max_iter=it, polish_steps=0,
            check_every=it), None,
        )  # fmt: skip
        last = GROUP_LASSO.relative_gap(X, F, Y, lam)
        best = torch.minimum(best, last)
    assert bool((best < last).any())  # the last iterate is not the best for some task
    torch.testing.assert_close(gap, best)
    torch.testing.assert_close(GROUP_LASSO.relative_gap(B, F, Y, lam), gap)


def test_vmap_over_the_unrolled_mode_is_a_clear_error():
    F = torch.randn(3, 10, 4, dtype=torch.float64)
    y = torch.randn(3, 10, dtype=torch.float64)

    def unrolled(F_t, y_t):
        return sl.functional.group_lasso(F_t, y_t, 0.1, backward="unroll").weights

    with pytest.raises(ValueError, match="backward='unroll' does not run under torch.func.vmap"):
        torch.func.vmap(unrolled)(F, y)
