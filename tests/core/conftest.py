import pytest
import torch


def regression_problem(
    tasks=(3,), n=20, m=6, k=None, seed=0, dtype=torch.float64, active=2, noise=0.3
):
    """Random tasks whose targets depend on the first ``active`` features."""
    g = torch.Generator().manual_seed(seed)
    F = torch.randn(*tasks, n, m, generator=g, dtype=dtype)
    outputs = 1 if k is None else k
    W = torch.zeros(*tasks, outputs, m, dtype=dtype)
    W[..., :active] = torch.randn(*tasks, outputs, active, generator=g, dtype=dtype) + 1.0
    Y = F @ W.mT + noise * torch.randn(*tasks, n, outputs, generator=g, dtype=dtype)
    return F, (Y[..., 0] if k is None else Y)


@pytest.fixture
def problem():
    return regression_problem
