"""The public import paths and signatures are part of the contract: a change here is a
deliberate API change (update the pins and the CHANGELOG), never an accident."""

import doctest
import importlib
import inspect
import pkgutil
import typing
from pathlib import Path

import pytest

import sparselayers
import sparselayers.functional as F

PINNED = {
    "sparselayers.Backward": "('implicit', 'unroll', 'cvxpy')",
    "sparselayers.GroupLassoRegression": (
        "(self, lam: 'float | Tensor', *, relative: 'bool' = False, backward: 'Backward' = "
        "'implicit', tol: 'float' = 1e-06, max_iter: 'int' = 5000) -> 'None'"
    ),
    "sparselayers.RidgeRegression": (
        "(self, lam: 'float | Tensor', *, relative: 'bool' = False, backward: 'Backward' = "
        "'implicit', tol: 'float' = 1e-06, max_iter: 'int' = 5000) -> 'None'"
    ),
    "sparselayers.L21OuterPenalty": (
        "(self, lam: 'float | Tensor', group_dim: 'int | None' = -2) -> 'None'"
    ),
    "sparselayers.GroupLassoMulticlassSVMDual": (
        "(self, lam1: 'float | Tensor', lam2: 'float | Tensor', num_classes: 'int', *, "
        "backward: 'Backward' = 'implicit', tol: 'float' = 1e-06, max_iter: 'int' = 5000, "
        "dual_ridge: 'float' = 0.0) -> 'None'"
    ),
    "sparselayers.RegressionSolution": (
        "(self, weights: 'Tensor', gap: 'Tensor', n_iter: 'Tensor', converged: 'Tensor') -> None"
    ),
    "sparselayers.SVMSolution": (
        "(self, weights: 'Tensor', dual: 'Tensor', gap: 'Tensor', n_iter: 'Tensor', "
        "converged: 'Tensor') -> None"
    ),
    "sparselayers.functional.group_lasso": (
        "(features: 'Tensor', targets: 'Tensor', lam: 'float | Tensor', *, relative: 'bool' = "
        "False, backward: 'Backward' = 'implicit', tol: 'float' = 1e-06, max_iter: 'int' = 5000, "
        "warm_start: 'Tensor | None' = None) -> 'RegressionSolution'"
    ),
    "sparselayers.functional.ridge": (
        "(features: 'Tensor', targets: 'Tensor', lam: 'float | Tensor', *, relative: 'bool' = "
        "False, backward: 'Backward' = 'implicit', tol: 'float' = 1e-06, max_iter: 'int' = 5000) "
        "-> 'RegressionSolution'"
    ),
    "sparselayers.functional.group_lasso_svm_dual": (
        "(features: 'Tensor', labels: 'Tensor', lam1: 'float | Tensor', lam2: 'float | "
        "Tensor', *, num_classes: 'int', backward: 'Backward' = 'implicit', tol: 'float' = 1e-06, "
        "max_iter: 'int' = 5000, warm_start: 'Tensor | None' = None, dual_ridge: 'float' = "
        "0.0) -> 'SVMSolution'"
    ),
    "sparselayers.functional.l21_norm": (
        "(weights: 'Tensor', group_dim: 'int | None' = -2) -> 'Tensor'"
    ),
    "sparselayers.functional.group_lasso_lambda_max": (
        "(features: 'Tensor', targets: 'Tensor') -> 'Tensor'"
    ),
    "sparselayers.functional.ridge_scale": "(features: 'Tensor') -> 'Tensor'",
    "sparselayers.functional.svm_lambda1_max": (
        "(features: 'Tensor', labels: 'Tensor', *, num_classes: 'int', tol: 'float' = 0.0001, "
        "max_iter: 'int' = 20000) -> 'Tensor'"
    ),
}


def _public():
    for module in (sparselayers, F):
        for name in module.__all__:
            obj = getattr(module, name)
            if inspect.ismodule(obj):
                continue
            yield f"{module.__name__}.{name}", obj


def test_public_names_are_exactly_the_pinned_ones():
    assert {name for name, _ in _public()} == set(PINNED)
    assert "functional" in sparselayers.__all__


@pytest.mark.parametrize("name", sorted(PINNED))
def test_public_signatures_are_pinned(name):
    obj = dict(_public())[name]
    if typing.get_origin(obj) is typing.Literal:  # a type: its values are pinned
        assert str(typing.get_args(obj)) == PINNED[name]
        return
    signature = inspect.signature(obj.__init__ if inspect.isclass(obj) else obj)
    assert str(signature) == PINNED[name]
    assert (obj.__doc__ or "").strip(), f"{name} has no docstring"


def test_docstring_examples_run():
    """Every ``>>>`` example in ``sparselayers`` runs as written."""
    attempted = 0
    for info in pkgutil.walk_packages(sparselayers.__path__, "sparselayers."):
        module = importlib.import_module(info.name)
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0, info.name
        attempted += result.attempted
    assert attempted >= 5


def test_typed_package():
    assert (Path(sparselayers.__file__).parent / "py.typed").exists()


@pytest.mark.parametrize("name", sorted(n for n in PINNED if n.split(".")[-1][0].isupper()))
def test_help_shows_every_argument_of_a_class(name):
    """``help(Layer)`` shows the class docstring: it documents every constructor argument."""
    obj = dict(_public())[name]
    if typing.get_origin(obj) is typing.Literal or not hasattr(obj, "forward"):
        return
    for parameter in list(inspect.signature(obj.__init__).parameters)[1:]:
        assert f"    {parameter}:" in obj.__doc__, f"{name} does not document {parameter}"
