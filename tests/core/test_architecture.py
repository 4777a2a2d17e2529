"""The library's wiring: problems satisfy the protocols their solvers and backward modes are
typed by, one table routes every problem to its forward solver, and nothing probes a problem
for optional methods."""

import ast
from pathlib import Path

import pytest
import torch

import sparselayers as sl
from sparselayers.backward import parse_backward
from sparselayers.backward.modes import Implicit, Reference, Unroll
from sparselayers.problems import CRAMMER_SINGER, GROUP_LASSO, GROUP_LASSO_SVM, RIDGE
from sparselayers.problems.protocols import (
    ActiveSetProblem,
    ClosedFormProblem,
    CvxpyProblem,
    PrimalMapProblem,
    ProximalProblem,
)
from sparselayers.solvers.table import FORWARD

ROOT = Path(sl.__file__).parent


@pytest.mark.parametrize(
    "problem", [GROUP_LASSO, RIDGE, GROUP_LASSO_SVM, CRAMMER_SINGER], ids=lambda p: p.name
)
def test_every_problem_offers_what_the_solvers_and_the_implicit_backward_need(problem):
    assert isinstance(problem, ProximalProblem)
    assert isinstance(problem, ActiveSetProblem)


def test_reference_and_closed_forms_where_the_functional_forms_use_them():
    for problem in (GROUP_LASSO, RIDGE, GROUP_LASSO_SVM):  # the cvxpy mode's problems
        assert isinstance(problem, CvxpyProblem)
    assert isinstance(RIDGE, ClosedFormProblem)
    for problem in (GROUP_LASSO_SVM, CRAMMER_SINGER):  # W and the dual in one implicit pass
        assert isinstance(problem, PrimalMapProblem)


def test_one_table_routes_every_problem():
    assert set(FORWARD) == {"lasso", "group_lasso", "ridge", "svm_features", "svm_kernel"}
    routed = {entry.problem for entry in FORWARD.values()}
    assert routed == {GROUP_LASSO, RIDGE, GROUP_LASSO_SVM, CRAMMER_SINGER}


def test_backward_is_parsed_once_into_a_mode():
    assert isinstance(parse_backward("implicit"), Implicit)
    assert isinstance(parse_backward("unroll"), Unroll)
    assert isinstance(parse_backward("cvxpy"), Reference)
    for bad in ("Implicit", "", None, 1):
        with pytest.raises(ValueError, match="backward must be one of"):
            parse_backward(bad)


def _probes(path: Path) -> list[str]:
    """``hasattr(...)`` anywhere, ``getattr(problem or solver, ...)``."""
    tree = ast.parse(path.read_text())
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            continue
        first = node.args[0] if node.args else None
        on_problem = isinstance(first, ast.Name) and first.id in ("problem", "solver")
        if node.func.id == "hasattr" or (node.func.id == "getattr" and on_problem):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_no_solver_or_backward_mode_probes_a_problem():
    """What a problem offers is its protocol: no ``hasattr``/``getattr`` probes."""
    found = []
    for folder in ("solvers", "backward", "functional", "problems"):
        for path in sorted((ROOT / folder).glob("*.py")):
            found += _probes(path)
    assert found == []


def test_problems_hold_no_solver_policy():
    """Budgets, cost models and solver hooks belong to the solvers."""
    policy = {"can_polish", "polish_budget", "working_sets", "sample_state", "WRITE_COST"}
    for path in sorted((ROOT / "problems").glob("*.py")):
        tree = ast.parse(path.read_text())
        names = {
            node.name if isinstance(node, ast.FunctionDef) else target.id
            for node in ast.walk(tree)
            if isinstance(node, ast.FunctionDef | ast.Assign)
            for target in (node.targets if isinstance(node, ast.Assign) else [node])
            if isinstance(node, ast.FunctionDef) or isinstance(target, ast.Name)
        }
        assert not names & policy, f"{path.name}: {names & policy}"


def test_a_shared_retirement_keeps_every_task_result():
    """Tasks retire from the batch at different iterations; each keeps its own result (the
    batch's solution equals the tasks solved one by one)."""
    g = torch.Generator().manual_seed(5)
    F = torch.randn(6, 30, 12, generator=g, dtype=torch.float64)
    Y = torch.randn(6, 30, 3, generator=g, dtype=torch.float64)
    lam = torch.tensor([0.02, 0.05, 0.1, 0.2, 0.4, 0.8], dtype=torch.float64)
    batch = sl.functional.group_lasso(F, Y, lam, relative=True, tol=1e-10)
    assert len(set(batch.n_iter.tolist())) > 1  # they did leave at different times
    for t in range(6):
        alone = sl.functional.group_lasso(F[t], Y[t], float(lam[t]), relative=True, tol=1e-10)
        torch.testing.assert_close(batch.weights[t], alone.weights, rtol=1e-7, atol=1e-9)
