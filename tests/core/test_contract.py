"""The public contract of ``DESIGN.md`` §3, asserted over one registry of every layer and
functional form × backward mode × dtype × batch shape.

A registry entry (`Layer`) knows how to draw inputs for a batch shape and how to call the
layer; every contract test runs over every entry it applies to, so a layer added to the
registry is held to the whole contract at once.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import pytest
import torch
from torch.func import vmap

import sparselayers as sl
import sparselayers.functional as SF

MODES = ("implicit", "unroll", "cvxpy")
DTYPES = (torch.float32, torch.float64)
BATCHES = ((), (1,), (3,), (2, 2), (0,))
N, M, K = 9, 4, 3


@dataclass(frozen=True)
class Layer:
    """A public layer: ``inputs(batch, dtype, g)`` -> the differentiable tensors (features
    first) and the rest; ``call(tensors, rest, backward)`` -> the weights (or the output)."""

    name: str
    inputs: Callable
    call: Callable
    modes: tuple[str, ...] = MODES

    def run(self, batch, dtype, backward, requires_grad=True, seed=0):
        g = torch.Generator().manual_seed(seed)
        tensors, rest = self.inputs(batch, dtype, g)
        tensors = [t.requires_grad_(requires_grad) for t in tensors]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # diffcp's "Solved/Inaccurate" on float64 refs
            return tensors, rest, self.call(tensors, rest, backward)


def _regression(k):
    def inputs(batch, dtype, g):
        F = torch.randn(*batch, N, M, generator=g, dtype=dtype)
        Y = torch.randn(*batch, N, *((k,) if k else ()), generator=g, dtype=dtype)
        return [F, Y], None

    return inputs


def _svm_inputs(batch, dtype, g):
    F = torch.randn(*batch, N, M, generator=g, dtype=dtype)
    labels = torch.arange(K).repeat(N // K).expand(*batch, N).contiguous()
    return [F], labels


def _l21_inputs(batch, dtype, g):
    return [torch.randn(*batch, K, M, generator=g, dtype=dtype)], None


REGISTRY = (
    Layer("lasso", _regression(None), lambda t, r, b: SF.group_lasso(*t, 0.1, backward=b)),
    Layer(
        "group_lasso",
        _regression(2),
        lambda t, r, b: SF.group_lasso(*t, 0.2, relative=True, backward=b),
    ),
    Layer("ridge", _regression(2), lambda t, r, b: SF.ridge(*t, 0.3, backward=b)),
    Layer(
        "svm_dense",
        _svm_inputs,
        lambda t, r, b: SF.group_lasso_svm_dual(t[0], r, 0.0, 1.0, num_classes=K, backward=b),
    ),
    Layer(
        "svm_sparse",
        _svm_inputs,
        lambda t, r, b: SF.group_lasso_svm_dual(t[0], r, 0.3, 1.0, num_classes=K, backward=b),
    ),
    Layer(
        "GroupLassoRegression",
        _regression(None),
        lambda t, r, b: sl.GroupLassoRegression(0.1, backward=b)(*t),
    ),
    Layer(
        "RidgeRegression", _regression(2), lambda t, r, b: sl.RidgeRegression(0.3, backward=b)(*t)
    ),
    Layer(
        "GroupLassoMulticlassSVMDual",
        _svm_inputs,
        lambda t, r, b: sl.GroupLassoMulticlassSVMDual(0.3, 1.0, num_classes=K, backward=b)(
            t[0], r
        ),
    ),
    Layer("l21_norm", _l21_inputs, lambda t, r, b: SF.l21_norm(t[0]), modes=("implicit",)),
    Layer(
        "L21OuterPenalty",
        _l21_inputs,
        lambda t, r, b: sl.L21OuterPenalty(0.5)(t[0]),
        modes=("implicit",),
    ),  # fmt: skip
)


def _weights(out):
    return out if isinstance(out, torch.Tensor) else out.weights


def _cases(batches=BATCHES, dtypes=DTYPES):
    for layer in REGISTRY:
        for backward in layer.modes:
            for dtype in dtypes:
                if backward == "cvxpy" and dtype != torch.float64:
                    continue  # the reference is float64 only (its own ValueError, tested)
                for batch in batches:
                    if backward == "cvxpy" and batch not in ((), (1,), (0,)):
                        continue  # the reference solves task by task: keep it small
                    yield pytest.param(
                        layer, backward, dtype, batch, id=_id(layer, backward, dtype, batch)
                    )


def _id(layer, backward, dtype, batch):
    return f"{layer.name}-{backward}-{str(dtype)[6:]}-{'x'.join(map(str, batch)) or 'none'}"


@pytest.mark.parametrize("layer, backward, dtype, batch", list(_cases()))
def test_outputs_and_gradients_are_finite_and_keep_dtype_and_batch(layer, backward, dtype, batch):
    tensors, _, out = layer.run(batch, dtype, backward)
    W = _weights(out)
    assert W.dtype == dtype
    assert W.shape[: len(batch)] == batch  # a batch of one keeps its dimension
    assert bool(torch.isfinite(W).all())
    W.square().sum().backward()
    for t in tensors:
        assert t.grad is not None and t.grad.shape == t.shape and t.grad.dtype == dtype
        assert bool(torch.isfinite(t.grad).all())


@pytest.mark.parametrize("layer, backward, dtype, batch", list(_cases(((2,),), (torch.float64,))))
def test_no_grad_and_inputs_without_grad(layer, backward, dtype, batch):
    _, _, reference = layer.run(batch, dtype, backward)
    _, _, plain = layer.run(batch, dtype, backward, requires_grad=False)
    with torch.no_grad():
        _, _, quiet = layer.run(batch, dtype, backward)
    with torch.inference_mode():
        _, _, inferred = layer.run(batch, dtype, backward)
    for out in (plain, quiet, inferred):
        assert not _weights(out).requires_grad
        torch.testing.assert_close(_weights(out), _weights(reference).detach())


@pytest.mark.parametrize("layer, backward, dtype, batch", list(_cases(((2,),), (torch.float64,))))
def test_outputs_and_gradients_are_ordinary_tensors(layer, backward, dtype, batch):
    """The solvers run in inference mode (``ops/inference.py``), but nothing they return is an
    inference tensor: autograd saves the outputs (``W * W``), and outputs and gradients can be
    changed in place (an optimizer's ``grad.zero_()``), which inference tensors refuse."""
    tensors, _, out = layer.run(batch, dtype, backward)
    outputs = [out] if isinstance(out, torch.Tensor) else list(vars(out).values())
    outputs = [x for x in outputs if isinstance(x, torch.Tensor)]
    W = _weights(out)
    (W * W).sum().backward()
    for x in [*outputs, *(t.grad for t in tensors)]:
        assert not x.is_inference()
        x.detach().copy_(x.detach().clone())


@pytest.mark.parametrize(
    "layer, backward, dtype, batch",
    [c for c in _cases(((3,),), (torch.float64,)) if c.values[1] != "cvxpy"],
)
def test_a_shared_input_receives_the_sum_of_the_per_task_gradients(layer, backward, dtype, batch):
    """Features shared by every task (expanded, not copied) get Σ over tasks of the gradients
    each task alone gives."""
    g = torch.Generator().manual_seed(1)
    tensors, rest = layer.inputs((), dtype, g)
    shared = tensors[0].clone().requires_grad_(True)
    others = [t.expand(3, *t.shape) for t in tensors[1:]]
    rest3 = None if rest is None else rest.expand(3, *rest.shape)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        W = _weights(layer.call([shared.expand(3, *shared.shape), *others], rest3, backward))
        scale = torch.tensor([1.0, 2.0, 3.0], dtype=dtype)
        (W.square().reshape(3, -1).sum(-1) * scale).sum().backward()
        total = torch.zeros_like(shared)
        for weight in scale.tolist():
            one = tensors[0].clone().requires_grad_(True)
            single = _weights(layer.call([one, *tensors[1:]], rest, backward))
            (weight * single.square().sum()).backward()
            total += one.grad
    torch.testing.assert_close(shared.grad, total, rtol=1e-6, atol=1e-8)


VMAPPABLE = [
    layer for layer in REGISTRY if layer.name in ("lasso", "group_lasso", "ridge", "svm_dense",
                                                  "svm_sparse", "l21_norm")
]  # fmt: skip


@pytest.mark.parametrize("layer", VMAPPABLE, ids=lambda layer: layer.name)
def test_vmap_equals_the_batched_call(layer):
    g = torch.Generator().manual_seed(2)
    tensors, rest = layer.inputs((3,), torch.float64, g)

    def one(*t):
        r = None if rest is None else rest[0]
        return _weights(layer.call(list(t), r, "implicit"))

    batched = _weights(layer.call(tensors, rest, "implicit"))
    torch.testing.assert_close(vmap(one)(*tensors), batched)


BAD = {
    "lasso": [
        (lambda F, Y: SF.group_lasso(F, Y, -0.1), "lam"),
        (lambda F, Y: SF.group_lasso(F, Y[..., :-1], 0.1), "targets"),
        (lambda F, Y: SF.group_lasso(F, Y, 0.1, backward="adjoint"), "backward"),
        (lambda F, Y: SF.group_lasso(F[..., 0, 0], Y, 0.1), "features"),
        (lambda F, Y: SF.group_lasso(F, Y.float(), 0.1), "targets"),
        (lambda F, Y: SF.group_lasso(F.clone().fill_(float("inf")), Y, 0.1), "features"),
        (lambda F, Y: SF.group_lasso(F, Y, torch.ones(5, dtype=F.dtype)), "lam"),
    ],
    "ridge": [
        (lambda F, Y: SF.ridge(F, Y, -1.0), "lam"),
        (lambda F, Y: SF.ridge(F, Y[..., :-1], 0.1), "targets"),
        (lambda F, Y: SF.ridge(F, Y, 0.1, backward="none"), "backward"),
        (lambda F, Y: SF.ridge(F.clone().fill_(float("nan")), Y, 0.1), "features"),
    ],
}


@pytest.mark.parametrize(
    "name, index", [(name, i) for name, cases in BAD.items() for i in range(len(cases))]
)
def test_bad_input_raises_a_value_error_naming_the_argument(name, index):
    g = torch.Generator().manual_seed(3)
    F = torch.randn(2, N, M, generator=g, dtype=torch.float64)
    Y = torch.randn(2, N, generator=g, dtype=torch.float64)
    call, argument = BAD[name][index]
    with pytest.raises(ValueError, match=argument):
        call(F, Y)


@pytest.mark.parametrize(
    "call",
    [
        lambda F, Y, labels, b: SF.group_lasso(F, Y, 1e-4, backward=b, tol=1e-14, max_iter=2),
        lambda F, Y, labels, b: SF.group_lasso(
            F,
            Y.unsqueeze(-1).expand(2, N, 2).contiguous(),
            1e-4,
            backward=b,
            tol=1e-14,
            max_iter=2,
        ),
        lambda F, Y, labels, b: SF.group_lasso_svm_dual(
            F, labels, 0.0, 1.0, num_classes=K, backward=b, tol=1e-14, max_iter=2
        ),
        lambda F, Y, labels, b: SF.group_lasso_svm_dual(
            F, labels, 0.3, 1.0, num_classes=K, backward=b, tol=1e-14, max_iter=2
        ),
    ],
    ids=["lasso", "group_lasso", "svm_dense", "svm_sparse"],
)
@pytest.mark.parametrize("backward", ["implicit", "unroll"])
def test_non_convergence_warns_with_the_gap_in_every_path(call, backward):
    g = torch.Generator().manual_seed(4)
    F = torch.randn(2, N, M, generator=g, dtype=torch.float64)
    Y = torch.randn(2, N, generator=g, dtype=torch.float64)
    labels = torch.arange(K).repeat(N // K).expand(2, N).contiguous()
    with pytest.warns(RuntimeWarning, match="duality gap reached"):
        sol = call(F, Y, labels, backward)
    assert not bool(sol.converged.all())
