"""The matrix-free implicit solve of the SVM head (``ops/pcg.py``) and the ungathered active
columns: both must give the gradients of the formed, gathered path."""

import pytest
import torch
from torch.autograd import gradcheck
from torch.func import jacrev

import sparselayers as sl
import sparselayers.problems.svm_features as svm_features
import sparselayers.problems.svm_scores as svm_scores
import sparselayers.solvers.kernel_metric as kernel_metric
from sparselayers.ops.pcg import conjugate_gradients, relative_tolerance
from tests.core.test_svm import svm_problem


def spd(tasks: int, d: int, condition: float, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    Q, _ = torch.linalg.qr(torch.randn(tasks, d, d, generator=g, dtype=torch.float64))
    spectrum = torch.logspace(0, torch.log10(torch.tensor(condition)).item(), d, dtype=Q.dtype)
    return Q @ torch.diag_embed(spectrum.expand(tasks, d)) @ Q.mT


def test_conjugate_gradients_solve_each_task_to_its_tolerance():
    H = spd(3, 12, 1e3)
    b = torch.randn(3, 4, 3, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    b[1] = 0  # a zero right-hand side: solved at once, x = 0
    x, converged = conjugate_gradients(
        lambda v: (H @ v.flatten(-2).unsqueeze(-1)).view_as(v),
        lambda r: r,
        b,
        rtol=relative_tolerance(torch.float64),
    )
    assert converged.tolist() == [True, True, True]
    expected = torch.linalg.solve(H, b.flatten(-2).unsqueeze(-1)).view_as(b)
    torch.testing.assert_close(x, expected, rtol=1e-10, atol=1e-12)
    assert bool((x[1] == 0).all())


def test_conjugate_gradients_report_what_they_did_not_solve():
    H = spd(2, 30, 1e6)
    b = torch.randn(2, 30, 1, dtype=torch.float64)
    _, converged = conjugate_gradients(
        lambda v: H @ v, lambda r: r, b, rtol=relative_tolerance(torch.float64), max_iter=3
    )
    assert not bool(converged.any())


def head_gradient(F, labels, lam1, *, budget: float, gather_below: float, monkeypatch):
    monkeypatch.setattr(svm_features, "DIRECT_SOLVE_BUDGET", budget)
    monkeypatch.setattr(svm_scores, "GATHER_BELOW", gather_below)
    F = F.clone().requires_grad_(True)
    sol = sl.functional.group_lasso_svm_dual(F, labels, lam1, 1.0, num_classes=3, tol=1e-12)
    cotangent = torch.randn(sol.weights.shape, generator=torch.Generator().manual_seed(3))
    sol.weights.backward(cotangent.to(F.dtype))
    return F.grad, sol.weights.detach()


@pytest.mark.parametrize("lam1", [0.3, 2.0])
def test_matrix_free_and_ungathered_paths_give_the_formed_gradient(lam1, monkeypatch):
    """Conjugate gradients (budget 0: always) and no gather (fraction 0: never gather) against
    the formed system on gathered columns (budget inf, always gather), float64."""
    F, labels = svm_problem(tasks=(3,), n=12, m=40, seed=5)
    formed, W = head_gradient(F, labels, lam1, budget=float("inf"), gather_below=2.0,
                              monkeypatch=monkeypatch)  # fmt: skip
    assert 0 < int((W.norm(dim=-2) > 0).sum()) < W.shape[0] * W.shape[-1]  # some columns off
    for budget, gather_below in ((0.0, 2.0), (0.0, 0.0), (float("inf"), 0.0)):
        grad, _ = head_gradient(F, labels, lam1, budget=budget, gather_below=gather_below,
                                monkeypatch=monkeypatch)  # fmt: skip
        torch.testing.assert_close(grad, formed, rtol=1e-9, atol=1e-11)


def test_matrix_free_gradients_pass_gradcheck(monkeypatch):
    monkeypatch.setattr(svm_features, "DIRECT_SOLVE_BUDGET", 0.0)
    monkeypatch.setattr(svm_scores, "GATHER_BELOW", 0.0)
    F, labels = svm_problem(tasks=(), n=9, m=4, seed=1)
    F.requires_grad_(True)

    def head(F):
        return sl.functional.group_lasso_svm_dual(
            F, labels, 0.8, 1.5, num_classes=3, tol=1e-13, max_iter=100_000
        ).weights

    assert gradcheck(head, (F,), eps=1e-6, atol=1e-6, rtol=1e-5)


def test_matrix_free_solve_runs_under_jacrev(monkeypatch):
    """jacrev of the implicit mode vmaps the backward solve (its vmap rule gets concrete
    tensors); the conjugate gradients then see the vmapped cotangents as extra tasks."""
    F, labels = svm_problem(tasks=(), n=6, m=10, seed=6)

    def head(F):
        return sl.functional.group_lasso_svm_dual(F, labels, 0.5, 1.0, num_classes=3, tol=1e-12)

    monkeypatch.setattr(svm_features, "DIRECT_SOLVE_BUDGET", float("inf"))
    formed = jacrev(lambda F: head(F).weights)(F)
    monkeypatch.setattr(svm_features, "DIRECT_SOLVE_BUDGET", 0.0)
    free = jacrev(lambda F: head(F).weights)(F)
    torch.testing.assert_close(free, formed, rtol=1e-9, atol=1e-11)


@pytest.mark.parametrize("lam1", [0.05, 0.5, 2.0])
def test_kernel_metric_forward_gives_the_euclidean_solution(lam1, monkeypatch):
    """The kernel-metric steps (forced on small heads) reach the certified solution that
    Euclidean FISTA reaches, with exact zero columns in the same places."""
    F, labels = svm_problem(tasks=(3,), n=12, m=40, seed=7)

    def head():
        return sl.functional.group_lasso_svm_dual(F, labels, lam1, 1.0, num_classes=3, tol=1e-10)

    euclidean = head()
    monkeypatch.setattr(kernel_metric, "MIN_PASS_COST", 0.0)
    calls = []
    original = kernel_metric.solve_in_kernel_metric
    monkeypatch.setattr(
        kernel_metric,
        "solve_in_kernel_metric",
        lambda *args: calls.append(1) or original(*args),
    )
    metric = head()
    assert calls  # the path under test ran
    assert bool(metric.converged.all()) and float(metric.gap.max()) <= 1e-10
    torch.testing.assert_close(metric.weights, euclidean.weights, rtol=1e-4, atol=1e-6)
    zero = metric.weights.norm(dim=-2) == 0
    assert bool((zero == (euclidean.weights.norm(dim=-2) == 0)).all())


def test_kernel_metric_steps_are_few_on_a_weakly_shrunk_head():
    """With lam1 small (shrinkage lam1 / ||v_j|| 0.17 at the median, 99 % active columns) the
    metric is nearly the Hessian: 7-10 steps to 1e-8, where Euclidean FISTA takes 35-43."""
    from sparselayers.problems.svm_features import GROUP_LASSO_SVM
    from sparselayers.solvers.apg import solve_apg
    from sparselayers.solvers.options import SolverOptions

    F, labels = svm_problem(tasks=(4,), n=15, m=200, seed=8)
    Y = torch.nn.functional.one_hot(labels, 3).to(F.dtype)
    params = (F, Y, torch.full((4,), 0.001, dtype=F.dtype), torch.full((4,), 1.0, dtype=F.dtype))
    options = SolverOptions(tol=1e-8, max_iter=2000, check_every=1, polish_steps=0)
    start = GROUP_LASSO_SVM.initial(*params)
    _, gap, steps = kernel_metric.solve_in_kernel_metric(GROUP_LASSO_SVM, params, options, start)
    _, gap_e, steps_e, _ = solve_apg(GROUP_LASSO_SVM, params, options, start, warn=False)
    assert float(gap.max()) <= 1e-8 and float(gap_e.max()) <= 1e-8
    assert int(steps.max()) * 3 <= int(steps_e.max())


def test_kernel_metric_step_stops_early_near_the_solution_of_its_qp(monkeypatch):
    """The proximal step's early stop (``INNER_RTOL``): fewer iterations than the cap, and a
    point within ``INNER_RTOL`` of the QP's solution relative to the step's displacement."""
    from sparselayers.ops.simplex import project_offsets

    g = torch.Generator().manual_seed(0)
    T, n, k = 4, 8, 3
    B = torch.randn(T, n, 20, generator=g, dtype=torch.float64)
    K = B @ B.mT / 20
    step = 1 / torch.linalg.eigvalsh(K)[:, -1]
    Y = torch.nn.functional.one_hot(torch.randint(0, k, (T, n), generator=g), k).double()
    Z = project_offsets(0.1 * torch.randn(T, n, k, generator=g, dtype=torch.float64), Y)
    gradient = torch.randn(T, n, k, generator=g, dtype=torch.float64)
    calls = []
    monkeypatch.setattr(
        kernel_metric, "project_offsets", lambda *a: calls.append(1) or project_offsets(*a)
    )
    early = kernel_metric._metric_step(K, step, Y, Z, gradient)
    assert len(calls) <= kernel_metric.INNER_ITERATIONS  # the first projection and fewer steps
    rtol = kernel_metric.INNER_RTOL
    monkeypatch.setattr(kernel_metric, "INNER_RTOL", 0.0)
    monkeypatch.setattr(kernel_metric, "INNER_ITERATIONS", 5000)
    exact = kernel_metric._metric_step(K, step, Y, Z, gradient)
    distance = torch.linalg.matrix_norm(early - exact) / torch.linalg.matrix_norm(exact - Z)
    assert float(distance.max()) <= rtol
