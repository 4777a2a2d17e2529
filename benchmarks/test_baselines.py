"""Correctness of the stronger baselines (skglm, celer, ProxSuite, the paper's head) on tiny
problems, against our float64 references and each other, so that a wrong formulation cannot
pass as a fast baseline; and their place in the registry."""

from __future__ import annotations

import pytest
import torch

from benchmarks.cases import (
    METAOPTNET_DUAL_RIDGE,
    METHODS,
    REGRESSION_TOL,
    Case,
    Problem,
    all_cases,
)
from benchmarks.data import svm_data
from benchmarks.methods import prepare
from benchmarks.methods.paper_head import PaperHead, PaperHeadSettings, paper_head
from benchmarks.metrics import (
    regression_gap,
    regression_reference,
    relative_error,
    svm_gap,
    svm_reference,
)

TINY_LASSO = Problem("group_lasso", 3, 12, 8, 1, "float64", 0.1)
TINY_MTL = Problem("group_lasso", 3, 12, 8, 2, "float32", 0.1)
TINY_METAOPTNET = Problem("svm", 2, 6, 10, 3, "float32", 0.0, dual_ridge=METAOPTNET_DUAL_RIDGE)


def case(problem: Problem, method: str) -> Case:
    return Case(problem, METHODS[method], problem.T)


@pytest.mark.parametrize("method", ["skglm", "celer", "sklearn"])
def test_lasso_loops_reach_the_reference(method):
    out = prepare(case(TINY_LASSO, method)).forward()
    reference, _ = regression_reference(TINY_LASSO, TINY_LASSO.T)
    assert out.weights.shape == reference.shape
    assert relative_error(out.weights, reference) < 1e-2
    assert torch.equal(out.weights != 0, reference != 0)
    # skglm's tol is a sufficient bound on our gap; celer's and scikit-learn's certificates use
    # other dual points than our formula, hence a margin.
    assert regression_gap(TINY_LASSO, out.weights, TINY_LASSO.T) <= 10 * REGRESSION_TOL


def test_skglm_multitask_on_float32_data():
    out = prepare(case(TINY_MTL, "skglm")).forward()
    reference, _ = regression_reference(TINY_MTL, TINY_MTL.T)
    assert out.weights.dtype == torch.float32
    assert out.weights.shape == reference.shape == (3, 2, 8)  # coef_ is (k, m) per task
    assert relative_error(out.weights, reference) < 1e-2
    assert regression_gap(TINY_MTL, out.weights, TINY_MTL.T) <= REGRESSION_TOL


def test_celer_multitask_fails_with_a_readable_error_or_is_right():
    runner = prepare(case(TINY_MTL, "celer"))
    try:
        out = runner.forward()
    except RuntimeError as err:  # celer 0.7.4 with scikit-learn >= 1.6
        assert "celer" in str(err) and "MultiTaskLasso.fit failed" in str(err)
        assert "_validate_data" in str(err)
        return
    reference, _ = regression_reference(TINY_MTL, TINY_MTL.T)
    assert relative_error(out.weights, reference) < 1e-2


def test_proxsuite_solves_metaoptnets_qp_like_qpth_and_our_head():
    pytest.importorskip("proxsuite")
    prox = prepare(case(TINY_METAOPTNET, "proxsuite"))
    qpth = prepare(case(TINY_METAOPTNET, "qpth"))
    reference, (grad_reference,) = svm_reference(TINY_METAOPTNET, TINY_METAOPTNET.T)
    out, out_qpth = prox.forward(), qpth.forward()
    weights = out.weights.detach()
    assert relative_error(weights, reference) < 1e-4
    assert relative_error(weights, out_qpth.weights.detach()) < 1e-3
    assert svm_gap(out.weights, out.dual, TINY_METAOPTNET, TINY_METAOPTNET.T) < 1e-5
    (grad,) = prox.forward_backward()
    (grad_qpth,) = qpth.forward_backward()
    assert relative_error(grad, grad_reference) < 1e-3
    assert relative_error(grad, grad_qpth) < 1e-3


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_paper_head_converged_equals_our_head(lam):
    """Run to convergence (many PGD steps, exact CG, no ridge), the paper's algorithm gives our
    head's solution and gradient: its dual, step size and implicit backward are the problem's."""
    problem = Problem("svm", 2, 6, 10, 3, "float64", lam)
    data = svm_data(problem)
    settings = PaperHeadSettings(steps=20_000, cg_iterations=300, cg_rtol=1e-12, ridge_fraction=0)
    F = data.features.clone().requires_grad_(True)
    W, Lam = paper_head(F, data.labels, data.lam1, data.lam2, 3, settings=settings)
    (W * data.cotangent).sum().backward()
    reference, (grad_reference,) = svm_reference(problem, problem.T)
    assert relative_error(W.detach(), reference) < 1e-8
    assert relative_error(F.grad, grad_reference) < 1e-6
    assert svm_gap(W, Lam, problem, problem.T) < 1e-10


def test_paper_head_defaults_are_inexact_and_honestly_reported():
    problem = Problem("svm", 2, 6, 10, 3, "float32", 0.5)
    runner = PaperHead(case(problem, "paper-head"))
    out = runner.forward()
    assert out.dual.shape == (2, 6, 3)
    assert torch.allclose(out.dual.sum(-1), torch.ones(2, 6), atol=1e-5)
    assert (out.dual >= 0).all()
    assert svm_gap(out.weights, out.dual, problem, problem.T) > 1e-4  # 5 steps: not converged
    (grad,) = runner.forward_backward()
    assert torch.isfinite(grad).all()


def test_stronger_baselines_sit_beside_the_ones_they_succeed():
    cases = all_cases()
    methods_on: dict[str, set[str]] = {}
    for c in cases:
        methods_on.setdefault(c.problem.id, set()).add(c.method.name)
    for c in cases:
        names = methods_on[c.problem.id]
        if "sklearn" in names:
            assert {"skglm", "celer"} <= names
        if "qpth" in names:
            assert "proxsuite" in names
        if c.problem.layer == "svm":
            assert ("paper-head" in names) == (not c.problem.dual_ridge)
    assert any("paper-head" in names for names in methods_on.values())
    for name in ("skglm", "celer", "proxsuite", "paper-head"):
        assert METHODS[name].role == "baseline"
    assert METHODS["proxsuite"].differentiable and METHODS["paper-head"].differentiable
