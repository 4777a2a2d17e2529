"""A few-shot classifier with the group-lasso SVM head (the paper's Section 5.2, in miniature).

Every episode has k classes with a few support and query samples each. A small network embeds
them; the head fits a group-sparse Crammer–Singer SVM on the support embeddings, exactly (to a
certified duality gap), and the query logits ``F_query Wᵀ`` are trained with cross-entropy. With
``lam1 > 0`` whole feature columns of ``W`` are zero: each episode uses a fraction of the
embedding.

    python examples/few_shot_svm_head.py            # 200 batches of 8 episodes, ~1 min
    python examples/few_shot_svm_head.py --smoke    # a few steps (what make test runs)
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

import sparselayers as sl


def episodes(batch: int, ways: int, shots: int, queries: int, generator: torch.Generator):
    """Gaussian classes in 32 dimensions, new centres every episode: ``x (batch, N, 32)`` and
    labels ``(batch, N)``, support first (``ways · shots`` samples), then queries."""
    centres = 2 * torch.randn(batch, ways, 32, generator=generator)
    per_class = shots + queries
    labels = torch.arange(ways).repeat_interleave(per_class).expand(batch, -1)
    x = centres.gather(1, labels.unsqueeze(-1).expand(-1, -1, 32))
    x = x + torch.randn(x.shape, generator=generator)
    start = torch.arange(ways).unsqueeze(1) * per_class  # each class's first sample
    support = (start + torch.arange(shots)).flatten()
    query = (start + shots + torch.arange(queries)).flatten()
    support_then_query = torch.cat([support, query])
    return x[:, support_then_query], labels[:, support_then_query]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--lam1", type=float, default=0.4, help="λ1 / λ1_max of each episode")
    parser.add_argument("--smoke", action="store_true", help="a few steps, for the test suite")
    args = parser.parse_args(argv)
    steps = 3 if args.smoke else args.steps

    torch.manual_seed(0)
    generator = torch.Generator().manual_seed(0)
    ways, shots, queries = 5, 5, 10
    embed = nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 64))
    optimizer = torch.optim.Adam(embed.parameters(), lr=1e-3)

    for step in range(1, steps + 1):
        x, labels = episodes(8, ways, shots, queries, generator)
        features = embed(x)
        features = features / features.norm(dim=-1, keepdim=True)  # unit-norm embeddings
        support, query = features[:, : ways * shots], features[:, ways * shots :]
        y_support, y_query = labels[:, : ways * shots], labels[:, ways * shots :]
        # λ1 relative to the smallest λ1 that zeroes the whole head (per episode, detached).
        lam1_max = sl.functional.svm_lambda1_max(support.detach(), y_support, num_classes=ways)
        head = sl.functional.group_lasso_svm_dual(
            support, y_support, args.lam1 * lam1_max, 1.0, num_classes=ways
        )
        logits = query @ head.weights.mT  # (8, queries · ways, ways)
        loss = nn.functional.cross_entropy(logits.flatten(0, 1), y_query.flatten())
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if step % max(1, steps // 10) == 0 or step == steps:
            accuracy = (logits.argmax(-1) == y_query).float().mean()
            zero_columns = (head.weights.norm(dim=-2) == 0).float().mean()
            print(
                f"step {step:4d}  loss {loss.item():.3f}  query accuracy {accuracy:.3f}  "
                f"zero columns {zero_columns:.0%}  certified {bool(head.converged.all())}"
            )


if __name__ == "__main__":
    main()
