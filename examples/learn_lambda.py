"""Learn the Lasso's λ by gradient descent on a validation loss (hyperparameter learning).

The Lasso's solution is differentiable in λ (on its support, ``dW/dλ = -G_SS⁻¹ sign(W_S)``), so
λ can be trained like any parameter: here ``λ = exp(θ)`` minimizes the held-out error of the
Lasso fit on a training split, for a batch of regression problems at once, and lands near the
λ that a grid search on the same validation error picks.

    python examples/learn_lambda.py            # 150 steps, a few seconds
    python examples/learn_lambda.py --smoke    # a few steps (what make test runs)
"""

from __future__ import annotations

import argparse

import torch

import sparselayers as sl


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--smoke", action="store_true", help="a few steps, for the test suite")
    args = parser.parse_args(argv)
    steps = 5 if args.smoke else args.steps

    generator = torch.Generator().manual_seed(0)
    T, n, m = 16, 40, 60

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator, dtype=torch.float64)

    w = randn(T, m) * (torch.rand(T, m, generator=generator) < 0.1)  # sparse truth
    F_train, F_val = randn(T, n, m), randn(T, n, m)
    y_train = (F_train @ w.unsqueeze(-1)).squeeze(-1) + 0.5 * randn(T, n)
    y_val = (F_val @ w.unsqueeze(-1)).squeeze(-1) + 0.5 * randn(T, n)

    def validation_error(lam: torch.Tensor) -> torch.Tensor:
        W = sl.functional.group_lasso(F_train, y_train, lam).weights  # (T, m)
        return ((F_val @ W.unsqueeze(-1)).squeeze(-1) - y_val).pow(2).mean()

    theta = torch.tensor(-3.0, dtype=torch.float64, requires_grad=True)  # λ = e^θ, shared
    optimizer = torch.optim.Adam([theta], lr=0.05)
    for step in range(1, steps + 1):
        loss = validation_error(theta.exp())
        optimizer.zero_grad()
        loss.backward()  # dλ through the solutions of all T problems
        optimizer.step()
        if step % max(1, steps // 5) == 0 or step == steps:
            print(f"step {step:4d}  λ {theta.exp().item():.4f}  validation MSE {loss.item():.4f}")

    grid = torch.logspace(-3, 0, 31, dtype=torch.float64)
    with torch.no_grad():
        errors = torch.stack([validation_error(lam) for lam in grid])
    best = int(errors.argmin())
    print(f"grid search: λ {grid[best].item():.4f}  validation MSE {errors[best].item():.4f}")


if __name__ == "__main__":
    main()
