"""The group-lasso multiclass SVM head: solutions, gradients, sparsity, functorch, errors."""

import cvxpy as cp
import numpy as np
import pytest
import torch
from sklearn.svm import LinearSVC
from torch.autograd import gradcheck
from torch.func import jacrev, vmap

import sparselayers as sl
from sparselayers.problems.svm_dual import primal_weights
from sparselayers.problems.svm_scores import TRANSPOSED_BELOW, scores


def svm_problem(tasks=(2,), n=12, m=6, k=3, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(k).repeat(n // k + 1)[:n].expand(*tasks, n).contiguous()
    centers = torch.randn(*tasks, k, m, generator=g, dtype=dtype)
    F = centers.gather(-2, labels[..., None].expand(*tasks, n, m))
    F = F + 1.5 * torch.randn(*tasks, n, m, generator=g, dtype=dtype)
    return F, labels


def primal_objective(W, F, labels, lam1, lam2):
    S = F @ W.T
    Y = np.eye(W.shape[0])[labels]
    hinge = (S + 1 - Y).max(1) - (S * Y).sum(1)
    return hinge.sum() + lam1 * np.linalg.norm(W, axis=0).sum() + lam2 / 2 * (W**2).sum()


@pytest.mark.parametrize("n,m", [(12, 6), (15, 40)])
def test_lam1_zero_equals_sklearn_crammer_singer(n, m):
    F, labels = svm_problem(tasks=(3,), n=n, m=m)
    sol = sl.functional.group_lasso_svm_dual(F, labels, 0.0, 0.5, num_classes=3, tol=1e-12)
    assert bool(sol.converged.all())
    for t in range(3):
        svc = LinearSVC(
            multi_class="crammer_singer", C=2.0, fit_intercept=False, tol=1e-12, max_iter=10**6
        ).fit(F[t].numpy(), labels[t].numpy())
        reference = svc.coef_
        assert np.linalg.norm(sol.weights[t].numpy() - reference) <= 1e-5 * np.linalg.norm(
            reference
        )


@pytest.mark.parametrize("lam1", [0.5, 3.0])
def test_lam1_positive_equals_cvxpy_primal(lam1):
    F, labels = svm_problem(tasks=(2,), n=12, m=8)
    lam2 = 1.0
    sol = sl.functional.group_lasso_svm_dual(F, labels, lam1, lam2, num_classes=3, tol=1e-12)
    assert bool(sol.converged.all())
    for t in range(2):
        W = cp.Variable((3, 8))
        Fn, y = F[t].numpy(), labels[t].numpy()
        S = Fn @ W.T
        Y = np.eye(3)[y]
        hinge = cp.sum(cp.max(S + 1 - Y, axis=1) - cp.sum(cp.multiply(S, Y), axis=1))
        penalty = lam1 * cp.sum(cp.norm(W, 2, axis=0)) + lam2 / 2 * cp.sum_squares(W)
        problem = cp.Problem(cp.Minimize(hinge + penalty))
        problem.solve(solver=cp.CLARABEL, tol_gap_abs=1e-10, tol_gap_rel=1e-10)
        ours = sol.weights[t].numpy()
        assert primal_objective(ours, Fn, y, lam1, lam2) <= problem.value + 1e-7
        assert np.linalg.norm(ours - W.value) <= 1e-4 * max(np.linalg.norm(W.value), 1.0)


def test_dual_is_on_the_simplex_and_links_to_the_primal():
    F, labels = svm_problem(tasks=(4,), n=15, m=10)
    sol = sl.functional.group_lasso_svm_dual(F, labels, 0.3, 0.7, num_classes=3, tol=1e-10)
    assert bool((sol.dual >= 0).all())
    torch.testing.assert_close(sol.dual.sum(-1), torch.ones(4, 15, dtype=torch.float64))
    Y = torch.nn.functional.one_hot(labels, 3).double()
    lam = torch.full((4,), 0.3, dtype=torch.float64)
    torch.testing.assert_close(sol.weights, primal_weights(Y - sol.dual, F, lam, lam + 0.4))
    assert bool((sol.gap <= 1e-10).all())
    # The gap shrinks as the tolerance is tightened.
    loose = sl.functional.group_lasso_svm_dual(F, labels, 0.3, 0.7, num_classes=3, tol=1e-2)
    assert bool((loose.gap <= 1e-2).all())


def test_sparsity_grows_with_lam1_and_zero_columns_get_finite_gradients():
    F, labels = svm_problem(tasks=(), n=15, m=20, seed=3)
    sparsities = []
    for lam1 in (0.0, 0.5, 1.0, 2.0, 4.0, 8.0):
        Ft = F.clone().requires_grad_(True)
        sol = sl.functional.group_lasso_svm_dual(Ft, labels, lam1, 1.0, num_classes=3)
        sparsities.append(float(sol.column_sparsity))
        sol.weights.pow(2).sum().backward()
        assert bool(torch.isfinite(Ft.grad).all())
    assert sparsities == sorted(sparsities) and sparsities[0] == 0.0 and sparsities[-1] > 0.5


@pytest.mark.parametrize("lam1", [0.0, 0.8])
@pytest.mark.parametrize("mode", ["implicit", "unroll"])
def test_gradcheck(lam1, mode):
    F, labels = svm_problem(tasks=(), n=9, m=4, seed=1)
    F.requires_grad_(True)
    lam2 = torch.tensor(1.5, dtype=torch.float64, requires_grad=True)

    def head(F, lam2):
        return sl.functional.group_lasso_svm_dual(
            F, labels, lam1, lam2, num_classes=3, backward=mode, tol=1e-13, max_iter=100_000
        ).weights

    assert gradcheck(head, (F, lam2), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_modes_agree_on_query_logits():
    F, labels = svm_problem(tasks=(2,), n=9, m=5, seed=2)
    queries = torch.randn(2, 7, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    G = torch.randn(2, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    for lam1 in (0.0, 0.7):
        grads = {}
        for mode in ("implicit", "unroll", "cvxpy"):
            Ft = F.clone().requires_grad_(True)
            l1 = torch.tensor(lam1, dtype=torch.float64, requires_grad=True)
            W = sl.functional.group_lasso_svm_dual(
                Ft, labels, l1, 1.0, num_classes=3, backward=mode, tol=1e-12, max_iter=100_000
            ).weights
            ((queries @ W.mT) * G).sum().backward()
            grads[mode] = (Ft.grad, l1.grad)
        for mode in ("unroll", "cvxpy"):
            for ours, other in zip(grads["implicit"], grads[mode], strict=True):
                assert float((ours - other).norm()) <= 1e-6 * max(float(other.norm()), 1.0)

        # Central finite differences of the query logits in one support feature.
        def loss(s, lam1=lam1):
            E = torch.zeros_like(F)
            E[0, 3, 2] = s
            W = sl.functional.group_lasso_svm_dual(
                F + E, labels, lam1, 1.0, num_classes=3, tol=1e-13
            ).weights
            return float(((queries @ W.mT) * G).sum())

        numeric = (loss(1e-6) - loss(-1e-6)) / 2e-6
        assert float(grads["implicit"][0][0, 3, 2]) == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("lam1", [0.0, 0.5])
def test_vmap_equals_batched_call(lam1):
    F, labels = svm_problem(tasks=(3,), n=9, m=5)

    def head(F, labels):
        return sl.functional.group_lasso_svm_dual(F, labels, lam1, 1.0, num_classes=3).weights

    torch.testing.assert_close(vmap(head)(F, labels), head(F, labels))


def test_batch_shapes_and_float32():
    F, labels = svm_problem(tasks=(2, 3), n=9, m=5, dtype=torch.float32)
    head = sl.GroupLassoMulticlassSVMDual(0.2, 1.0, num_classes=3, tol=1e-5)
    sol = head.solve(F, labels)
    assert sol.weights.shape == (2, 3, 3, 5) and sol.weights.dtype == torch.float32
    assert sol.dual.shape == (2, 3, 9, 3) and sol.column_sparsity.shape == (2, 3)
    assert bool(sol.converged.all())
    reference = sl.functional.group_lasso_svm_dual(
        F.double(), labels, 0.2, 1.0, num_classes=3, tol=1e-12
    )
    torch.testing.assert_close(sol.weights.double(), reference.weights, rtol=1e-3, atol=1e-4)


F0, L0 = svm_problem()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(labels=L0.double()), "labels must be an integer tensor"),
        (dict(labels=L0 + 3), r"labels must be integers in \[0, num_classes\)"),
        (dict(labels=L0 - 1), r"labels must be integers in \[0, num_classes\)"),
        (dict(labels=L0[..., :5]), r"labels must have shape \(\.\.\., n\)"),
        (dict(num_classes=1), "num_classes must be an int >= 2"),
        (dict(lam2=0.0), "lam2 must be positive"),
        (dict(lam2=torch.zeros(2, dtype=torch.float64)), "lam2 must be positive"),
        (dict(lam1=-1.0), "lam1 must be finite and non-negative"),
        (dict(lam1=torch.tensor(0.1)), "lam1 has dtype torch.float32"),
        (dict(features=F0.clone().fill_(float("nan"))), "features contains NaN or Inf"),
        (dict(backward="qp"), "backward must be one of"),
    ],
)
def test_bad_input(kwargs, match):
    arguments = dict(features=F0, labels=L0, lam1=0.1, lam2=1.0, num_classes=3)
    arguments.update(kwargs)
    features, labels = arguments.pop("features"), arguments.pop("labels")
    lam1, lam2 = arguments.pop("lam1"), arguments.pop("lam2")
    with pytest.raises(ValueError, match=match):
        sl.functional.group_lasso_svm_dual(features, labels, lam1, lam2, **arguments)


def test_module_validates_at_construction():
    with pytest.raises(ValueError, match="num_classes"):
        sl.GroupLassoMulticlassSVMDual(0.1, 1.0, num_classes=1)
    with pytest.raises(ValueError, match="lam2 must be positive"):
        sl.GroupLassoMulticlassSVMDual(0.1, 0.0, num_classes=3)


def wide_problem(tasks=(2,), n=12, m=300, k=3, seed=4):
    """Few informative columns among many noise columns: most columns are zero at lam1 > 0,
    so the working sets and the backward on active columns are exercised."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(k).repeat(n // k + 1)[:n].expand(*tasks, n).contiguous()
    centers = torch.zeros(*tasks, k, m, dtype=torch.float64)
    centers[..., :10] = 2 * torch.randn(*tasks, k, 10, generator=g, dtype=torch.float64)
    F = centers.gather(-2, labels[..., None].expand(*tasks, n, m))
    return F + torch.randn(*tasks, n, m, generator=g, dtype=torch.float64), labels


def full_problem_solution(F, labels, lam1, lam2, k, tol):
    """Reference: accelerated projected gradient on all columns (no working set)."""
    from sparselayers.problems import GROUP_LASSO_SVM
    from sparselayers.solvers.apg import solve_apg
    from sparselayers.solvers.options import SolverOptions

    Y = torch.nn.functional.one_hot(labels, k).to(F.dtype)
    lam = torch.full(F.shape[:-2], lam1, dtype=F.dtype)
    params = (F, Y, lam, torch.full_like(lam, lam2))
    L, gap, _, done = solve_apg(GROUP_LASSO_SVM, params, SolverOptions(tol=tol, max_iter=10**5))
    assert bool(done.all())
    return primal_weights(L, F, lam, torch.full_like(lam, lam2))  # L: the offsets Y - Λ


@pytest.mark.parametrize("warm", [False, True])
def test_working_sets_equal_the_full_solve(warm):
    F, labels = wide_problem()
    warm_start = None
    if warm:
        # Λ = Y ranks no column (V = 0): the working set starts at its minimum size and must
        # grow until no column outside it is active.
        warm_start = torch.nn.functional.one_hot(labels, 3).double()
    # Cold, the first working set (ranked at the uniform off-label point) holds 123 of the 300
    # columns and misses active ones; warm from Λ = Y it grows 32 -> 64 -> 128.
    sol = sl.functional.group_lasso_svm_dual(
        F, labels, 5.0, 1.0, num_classes=3, tol=1e-12, warm_start=warm_start
    )
    assert bool(sol.converged.all()) and bool((sol.gap <= 1e-12).all())
    assert bool((sol.column_sparsity > 0.9).all())
    reference = full_problem_solution(F, labels, 5.0, 1.0, 3, 1e-12)
    torch.testing.assert_close(sol.weights, reference, rtol=1e-6, atol=1e-8)


def test_lam1_positive_gradients_at_default_tol_match_references():
    """At the default tol the polished solution sits on its exact face: the implicit gradients
    (computed on the active columns only) match the cvxpy reference mode and finite differences,
    and inactive columns get exactly zero gradient."""
    F, labels = wide_problem(tasks=(), n=9, m=150, seed=5)  # 5 active columns of 150
    queries = torch.randn(6, 150, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    G = torch.randn(6, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))

    def loss(F, backward="implicit", tol=1e-6):
        W = sl.functional.group_lasso_svm_dual(
            F, labels, 3.0, 1.0, num_classes=3, backward=backward, tol=tol
        ).weights
        return ((queries @ W.mT) * G).sum(), W

    Ft = F.clone().requires_grad_(True)
    value, W = loss(Ft)
    (implicit,) = torch.autograd.grad(value, Ft)
    Fc = F.clone().requires_grad_(True)
    (reference,) = torch.autograd.grad(loss(Fc, "cvxpy", 1e-10)[0], Fc)
    assert float((implicit - reference).norm()) <= 1e-5 * float(reference.norm())
    zero = W.norm(dim=0) == 0
    assert bool(zero.any()) and bool((implicit[:, zero] == 0).all())
    active = (~zero).nonzero()[:, 0]
    for i, j in [(2, int(active[0])), (5, int(active[-1])), (7, int(zero.nonzero()[0]))]:
        E = torch.zeros_like(F)
        E[i, j] = 1e-6
        numeric = (float(loss(F + E, tol=1e-13)[0]) - float(loss(F - E, tol=1e-13)[0])) / 2e-6
        assert float(implicit[i, j]) == pytest.approx(numeric, rel=1e-5, abs=1e-8)


@pytest.mark.parametrize("conjugate_gradients", [False, True])
def test_backward_on_the_active_columns_equals_the_whole_problem(monkeypatch, conjugate_gradients):
    """The implicit backward restricted to the active columns of W (gathered once) gives the
    gradients of the unrestricted one in F, lam1 and lam2, with either implicit solve."""
    from sparselayers.problems import svm_features
    from sparselayers.problems.svm_dual import SimplexDual

    if conjugate_gradients:
        monkeypatch.setattr(svm_features, "DIRECT_SOLVE_COLUMNS", 0)
    F, labels = wide_problem(tasks=(2,), n=9, m=150, seed=5)
    G = torch.randn(2, 3, 150, dtype=torch.float64, generator=torch.Generator().manual_seed(2))

    def gradients():
        Ft = F.clone().requires_grad_(True)
        lam1 = torch.tensor([3.0, 2.5], dtype=torch.float64, requires_grad=True)
        lam2 = torch.tensor([1.0, 0.8], dtype=torch.float64, requires_grad=True)
        sol = sl.functional.group_lasso_svm_dual(Ft, labels, lam1, lam2, num_classes=3, tol=1e-12)
        assert bool((sol.column_sparsity > 0.5).all())  # so that the columns are gathered
        loss = (sol.weights * G).sum() + (sol.dual**2).sum()
        return torch.autograd.grad(loss, (Ft, lam1, lam2))

    restricted = gradients()
    whole_problem = staticmethod(SimplexDual.on_primal_support)
    monkeypatch.setattr(svm_features.GroupLassoSVMDual, "on_primal_support", whole_problem)
    whole = gradients()
    for a, b in zip(restricted, whole, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("lam1", [0.0, 2.0])
def test_jacrev_equals_rowwise_backward(lam1):
    """jacrev runs the implicit backward under vmap (the active-column gathers go through their
    vmap rules); its rows equal one backward per output."""
    F, labels = wide_problem(tasks=(), n=6, m=40, seed=6)

    def head(F):
        return sl.functional.group_lasso_svm_dual(
            F, labels, lam1, 1.0, num_classes=3, tol=1e-12
        ).weights

    J = jacrev(head)(F)
    Ft = F.clone().requires_grad_(True)
    W = head(Ft).reshape(-1)
    rows = [torch.autograd.grad(W[i], Ft, retain_graph=True)[0] for i in range(W.numel())]
    torch.testing.assert_close(J, torch.stack(rows).reshape(J.shape), rtol=1e-10, atol=1e-12)
    zero = W.detach().reshape(3, -1).norm(dim=0) == 0  # columns that get no gradient
    assert (lam1 == 0) == (not bool(zero.any()))
    assert bool((J.reshape(-1, *F.shape)[:, :, zero] == 0).all())


@pytest.mark.parametrize("lam1", [0.0, 0.1])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_non_finite_features_are_named_in_both_forms(lam1, bad):
    F = F0.clone()
    F[1, 2, 3] = bad
    with pytest.raises(ValueError, match="features contains NaN or Inf"):
        sl.functional.group_lasso_svm_dual(F, L0, lam1, 1.0, num_classes=3)


def test_low_rank_hessian_term_from_face_rows_or_class_blocks():
    """The reduced Hessian's low-rank term ``(P U)(P U)^T`` is built from the face rows or from
    the upper class blocks of ``U U^T``, whichever is cheaper: both equal the dense product, on
    faces of every size (vertices, edges, whole simplices)."""
    from sparselayers.ops.face_low_rank import (
        _low_rank_by_class_blocks,
        _low_rank_on_face_rows,
        low_rank_on_faces,
    )
    from sparselayers.ops.gather import active_first
    from sparselayers.ops.structured import block_diagonal
    from sparselayers.problems.simplex_faces import face_mask, face_projectors

    g = torch.Generator().manual_seed(3)
    T, n, k, s = 3, 7, 4, 11
    F = torch.randn(T, n, s, generator=g, dtype=torch.float64)
    u = torch.randn(T, k, s, generator=g, dtype=torch.float64)
    L = torch.rand(T, n, k, generator=g, dtype=torch.float64)
    L = L * (torch.rand(T, n, k, generator=g) < 0.5)
    L[..., 0] += 0.1  # every row on a face of 1 to k coordinates
    L = L / L.sum(-1, keepdim=True)
    mask = (L > 0).to(L.dtype)  # the faces of Λ = L
    P = face_projectors(mask)
    PU = block_diagonal(P) @ (F.unsqueeze(-2) * u.unsqueeze(-3)).reshape(T, n * k, s)
    expected = PU @ PU.mT
    order, _keep = active_first((L > 0).flatten(-2))
    assert 0 < order.shape[-1] < n * k
    assert bool((face_mask(1 - L, torch.ones_like(L)) == mask).all())
    for H in (
        _low_rank_on_face_rows(mask, F, u, order),
        _low_rank_by_class_blocks(P, F, u),
        low_rank_on_faces(mask, P, F, u),
    ):
        torch.testing.assert_close(H, expected, rtol=1e-12, atol=1e-12)


def test_kernel_face_solve_equals_the_formed_system():
    """The kernel dual's face solve (classes decoupled, an ``n x n`` system for the rows' sum
    constraints) equals the solve of the formed ``nk x nk`` system on faces of every size,
    reports the tasks whose class blocks are singular (``K = F F^T`` of rank ``m < n``, no
    ``dual_ridge``), and ``solve_support`` still solves those on the formed system."""
    from sparselayers.ops.support_solve import solve_masked
    from sparselayers.problems import CRAMMER_SINGER
    from sparselayers.problems.simplex_faces import project_tangent, reduced_system, solve_on_faces

    g = torch.Generator().manual_seed(5)
    T, n, k, m = 4, 9, 4, 5  # m < n: K = F F^T is singular, K + I is not
    F = torch.randn(T, n, m, generator=g, dtype=torch.float64)
    lam2 = torch.full((T,), 0.7, dtype=torch.float64)
    labels = torch.randint(k, (T, n), generator=g)
    Y = torch.nn.functional.one_hot(labels, k).to(F.dtype)
    free = torch.rand(T, n, k, generator=g) < 0.5
    A = torch.where(free | (Y > 0), Y - 0.1, Y)  # faces of 1 to k coordinates (A < Y)
    A[0, :3] = Y[0, :3] - 0.1  # rows on the whole simplex
    v = torch.randn(T, n, k, generator=g, dtype=torch.float64)
    mask = (A < Y).to(F.dtype)

    def formed(M):
        H = reduced_system(mask, M)
        return solve_masked(H, mask.flatten(-2), v.flatten(-2)).view_as(v)

    regular = F @ F.mT + torch.eye(n, dtype=F.dtype)
    z, ok = solve_on_faces(mask, regular / lam2[:, None, None], v)
    assert bool(ok.all())
    torch.testing.assert_close(z, formed(regular / lam2[:, None, None]), rtol=1e-10, atol=1e-10)
    assert bool((z[mask == 0] == 0).all())

    # Rows on a vertex (a face of one coordinate) have no tangent space: a tangent right-hand
    # side gets exactly zero there (a rounding error would move Newton candidates off the
    # simplex's plane, where their feasibility test tolerates none).
    vertex = mask.sum(-1) == 1
    assert bool(vertex.any())
    z_t, _ok = solve_on_faces(mask, regular / lam2[:, None, None], project_tangent(mask, v))
    assert bool((z_t[vertex] == 0).all())

    singular = F @ F.mT
    _z, ok = solve_on_faces(mask, singular / lam2[:, None, None], v)
    assert not bool(ok.any())  # every task has a class block of more than m rows: singular
    params = (F, singular, Y, lam2)
    torch.testing.assert_close(
        CRAMMER_SINGER.solve_support(A, v, *params),
        solve_masked(
            CRAMMER_SINGER.reduced_hessian(A, *params), mask.flatten(-2), v.flatten(-2)
        ).view_as(v),
        rtol=1e-10,
        atol=1e-10,
    )


def test_shrink_columns_gradient_is_zero_off_the_active_columns():
    """``shrink_columns`` (differentiated by the unrolled mode) clamps instead of selecting:
    zero and below-threshold columns still get an exactly zero, finite gradient, and active
    columns the Jacobian of the block soft-threshold (checked by gradcheck)."""
    from sparselayers.problems.svm_scores import shrink_columns

    lam1, lam2 = torch.tensor([0.5], dtype=torch.float64), torch.tensor([2.0], dtype=torch.float64)
    V = torch.tensor([[[0.0, 0.1, 1.0], [0.0, -0.2, 2.0]]], dtype=torch.float64)  # (1, 2, 3)
    V.requires_grad_(True)
    (grad,) = torch.autograd.grad(shrink_columns(V, lam1, lam2).sum(), V)
    assert bool(torch.isfinite(grad).all()) and bool((grad[..., :2] == 0).all())
    assert gradcheck(
        lambda V: shrink_columns(V, lam1, lam2), (V[..., 2:].detach().requires_grad_(),)
    )


def _metaoptnet_qp(F: np.ndarray, labels: np.ndarray, k: int, C: float, ridge: float):
    """MetaOptNet's Crammer–Singer dual QP (Lee et al. 2019), written from its formulation:
    min ½ vec(α)ᵀ ((K + ridge·I) ⊗ I_k) vec(α) − ⟨Y, α⟩, α ≤ C·Y, Σ_l α_il = 0; W = αᵀ F."""
    n = F.shape[0]
    Y = np.eye(k)[labels]
    K = F @ F.T + ridge * np.eye(n)
    alpha = cp.Variable((n, k))
    L = np.linalg.cholesky(K + 1e-12 * np.eye(n))
    objective = 0.5 * cp.sum_squares(L.T @ alpha) - cp.sum(cp.multiply(Y, alpha))
    constraints = [alpha <= C * Y, cp.sum(alpha, axis=1) == 0]
    cp.Problem(cp.Minimize(objective), constraints).solve(
        solver=cp.CLARABEL, tol_gap_abs=1e-12, tol_gap_rel=1e-12, tol_feas=1e-12
    )
    return alpha.value.T @ F


@pytest.mark.parametrize("ridge", [0.0, 1.0])
def test_dual_ridge_is_metaoptnets_head(ridge):
    F, labels = svm_problem(tasks=(2,), n=12, m=5)
    C = 0.1  # MetaOptNet's C_reg; lam2 = 1 / C
    sol = sl.functional.group_lasso_svm_dual(
        F, labels, 0.0, 1 / C, num_classes=3, tol=1e-12, max_iter=100_000, dual_ridge=ridge
    )
    for b in range(2):
        reference = _metaoptnet_qp(F[b].numpy(), labels[b].numpy(), 3, C, ridge)
        np.testing.assert_allclose(sol.weights[b].numpy(), reference, rtol=1e-5, atol=1e-7)
    if ridge:
        plain = sl.functional.group_lasso_svm_dual(F, labels, 0.0, 1 / C, num_classes=3)
        assert not torch.allclose(plain.weights, sol.weights, atol=1e-3)  # a different head
    with pytest.raises(ValueError, match="dual_ridge"):
        sl.functional.group_lasso_svm_dual(F, labels, 0.1, 1.0, num_classes=3, dual_ridge=1.0)
    with pytest.raises(ValueError, match="dual_ridge"):
        sl.functional.group_lasso_svm_dual(F, labels, 0.0, 1.0, num_classes=3, dual_ridge=-1.0)


def test_dual_ridge_gradients_pass_gradcheck():
    F, labels = svm_problem(tasks=(1,), n=6, m=3)
    F = F.clone().requires_grad_(True)

    def head(features):
        return sl.functional.group_lasso_svm_dual(
            features, labels, 0.0, 2.0, num_classes=3, tol=1e-12, max_iter=100_000,
            dual_ridge=1.0,
        ).weights  # fmt: skip

    assert gradcheck(head, (F,), eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("backward", ["implicit", "unroll"])
def test_dual_ridge_in_the_kernel_is_the_head_on_augmented_features(backward):
    # dual_ridge adds c I to the kernel; the same head fit on [F, √c I_n], weights on F.
    F, labels = svm_problem(tasks=(3,), n=9, m=4)
    F = F.clone().requires_grad_(True)
    c, n = 0.7, F.shape[-2]
    cotangent = torch.randn(3, 3, 4, generator=torch.Generator().manual_seed(1), dtype=F.dtype)
    options = {"num_classes": 3, "tol": 1e-12, "max_iter": 100_000, "backward": backward}
    ridge = sl.functional.group_lasso_svm_dual(F, labels, 0.0, 2.0, dual_ridge=c, **options)
    (grad_ridge,) = torch.autograd.grad(ridge.weights, F, cotangent)
    augmented = torch.cat([F, c**0.5 * torch.eye(n, dtype=F.dtype).expand(3, n, n)], -1)
    plain = sl.functional.group_lasso_svm_dual(augmented, labels, 0.0, 2.0, **options)
    (grad_plain,) = torch.autograd.grad(plain.weights[..., :4], F, cotangent)
    torch.testing.assert_close(ridge.weights, plain.weights[..., :4], rtol=1e-8, atol=1e-10)
    torch.testing.assert_close(grad_ridge, grad_plain, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize(("lam1", "dual_ridge"), [(0.0, 0.0), (0.0, 1.0), (2.0, 0.0), (None, 0.0)])
def test_head_weights_and_dual_pass_gradcheck_together(lam1, dual_ridge):
    # The implicit head differentiates W and the dual in one pass (ImplicitPrimalSolve), in
    # kernel form (lam1 = 0) and feature form (lam1 > 0, and a tensor lam1 with a gradient);
    # a loss on both outputs exercises both cotangents at once.
    F, labels = svm_problem(tasks=(2,), n=9, m=4, seed=3)
    F.requires_grad_(True)
    lam2 = torch.tensor([1.5, 0.7], dtype=torch.float64, requires_grad=True)
    lam1_t = torch.tensor([4.5, 2.5], dtype=torch.float64, requires_grad=True)
    inputs = (F, lam2) if lam1 is not None else (F, lam2, lam1_t)

    def head(F, lam2, lam1_t=None):
        sol = sl.functional.group_lasso_svm_dual(
            F, labels, lam1 if lam1 is not None else lam1_t, lam2, num_classes=3, tol=1e-13,
            max_iter=100_000, dual_ridge=dual_ridge,
        )  # fmt: skip
        if lam1 != 0.0:  # zero columns, not all: the sparse case
            assert 0 < float(sol.column_sparsity.max()) < 1
        return sol.weights, sol.dual

    assert gradcheck(head, inputs, eps=1e-6, atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("m", [40, 4_000])  # below and above svm_scores.TRANSPOSED_BELOW
def test_scores_layouts_equal_the_plain_product_with_their_gradients(m):
    g = torch.Generator().manual_seed(0)
    F = torch.randn(3, 150, m, generator=g, dtype=torch.float64, requires_grad=True)
    W = torch.randn(3, 4, m, generator=g, dtype=torch.float64, requires_grad=True)
    Y = torch.randn(3, 150, 4, generator=g, dtype=torch.float64, requires_grad=True)
    assert (150 * m > TRANSPOSED_BELOW) == (m == 4_000)
    G = torch.randn(3, 150, 4, generator=g, dtype=torch.float64)
    for ours, plain in [(scores(F, W), F @ W.mT), (scores(F, W, Y), F @ W.mT - Y)]:
        torch.testing.assert_close(ours, plain, rtol=1e-12, atol=1e-12)
        for a, b in zip(
            torch.autograd.grad(ours, (F, W), G), torch.autograd.grad(plain, (F, W), G), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
    dY = torch.autograd.grad(scores(F, W, Y), Y, G)[0]
    torch.testing.assert_close(dY, -G)
