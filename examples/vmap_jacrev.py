"""``torch.func`` on the layers: per-sample gradients with ``vmap``, Jacobians with ``jacrev``.

The functional forms in implicit mode are ``autograd.Function``s with a ``vmap`` rule, so
``vmap`` over tasks equals the batched call, and ``jacrev`` gives the exact Jacobian of the
solution with respect to the targets (on the support: ``F_S (F_Sᵀ F_S)⁻¹`` scaled, zero off it),
checked here against finite differences.

    python examples/vmap_jacrev.py            # (runs in a second; --smoke is the same)
"""

from __future__ import annotations

import argparse

import torch
from torch.func import jacrev, vmap

import sparselayers as sl


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="the same small run")
    parser.parse_args(argv)

    generator = torch.Generator().manual_seed(0)
    F = torch.randn(6, 30, 10, generator=generator, dtype=torch.float64)
    y = (
        F[..., 0]
        - 2 * F[..., 3]
        + 0.1 * torch.randn(6, 30, generator=generator, dtype=torch.float64)
    )

    def lasso(F_t: torch.Tensor, y_t: torch.Tensor) -> torch.Tensor:
        return sl.functional.group_lasso(F_t, y_t, 0.05, tol=1e-12).weights

    batched = lasso(F, y)
    mapped = vmap(lasso)(F, y)
    print(f"vmap vs batched call: max |difference| {(mapped - batched).abs().max().item():.1e}")

    J = jacrev(lasso, argnums=1)(F[0], y[0])  # (m, n): dW / dy for task 0
    eps = 1e-6
    direction = torch.randn(30, generator=generator, dtype=torch.float64)
    finite = (lasso(F[0], y[0] + eps * direction) - lasso(F[0], y[0] - eps * direction)) / (2 * eps)
    error = (J @ direction - finite).abs().max().item()
    print(f"jacrev vs finite differences: max |difference| {error:.1e}")
    support = batched[0] != 0
    print(f"rows of the Jacobian off the support are zero: {bool((J[~support] == 0).all())}")


if __name__ == "__main__":
    main()
