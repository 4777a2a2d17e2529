"""A Lasso layer inside a model: a shared encoder learned through per-task sparse regressions.

Each task t has inputs x (n × d) and targets y = z w_t + noise, where z = g(x) are latent
factors and w_t is sparse. The model encodes x into features F = f(x), fits every task's
weights W_t by the Lasso on its support set, and is trained on the query-set error of those
weights, so that gradients reach the encoder through the solution (``backward="implicit"``).

    python examples/downstream_regression.py            # 300 steps, ~20 s on one core
    python examples/downstream_regression.py --smoke    # a few steps (what make test runs)
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import sparselayers as sl


def tasks(batch: int, n: int, latents: int, mixing: torch.Tensor, generator: torch.Generator):
    """``batch`` tasks of ``2n`` samples (support then query): ``x (batch, 2n, d)``, ``y``."""
    z = torch.randn(batch, 2 * n, latents, generator=generator)
    x = torch.tanh(z @ mixing)  # an entangled, nonlinear view of the latents
    w = torch.randn(batch, latents, generator=generator)
    w = w * (torch.rand(batch, latents, generator=generator) < 0.3)  # sparse task weights
    y = (z @ w.unsqueeze(-1)).squeeze(-1) + 0.05 * torch.randn(batch, 2 * n, generator=generator)
    return x, y


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--smoke", action="store_true", help="a few steps, for the test suite")
    args = parser.parse_args(argv)
    steps = 5 if args.smoke else args.steps

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    latents, d, n = 6, 20, 25
    mixing = torch.randn(latents, d, generator=generator)
    encoder = nn.Sequential(nn.Linear(d, 64), nn.ReLU(), nn.Linear(64, latents))
    lasso = sl.GroupLassoRegression(lam=0.1, relative=True)  # λ = 0.1 λ_max per task
    optimizer = torch.optim.Adam(encoder.parameters(), lr=1e-3)

    for step in range(1, steps + 1):
        x, y = tasks(8, n, latents, mixing, generator)
        features = encoder(x)  # (8, 2n, latents)
        support, query = features[:, :n], features[:, n:]
        weights = lasso(support, y[:, :n])  # (8, latents), exact zeros off each support
        prediction = (query @ weights.unsqueeze(-1)).squeeze(-1)
        loss = ((prediction - y[:, n:]) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()  # through the Lasso solutions (implicit differentiation)
        optimizer.step()
        if step % max(1, steps // 10) == 0 or step == steps:
            used = (weights != 0).float().sum(-1).mean()
            print(f"step {step:4d}  query MSE {loss.item():.4f}  features used {used:.1f}")


if __name__ == "__main__":
    main()
