import pytest
import torch

from harness.data import (
    BernoulliGaussianWeights,
    BlockGaussianWeights,
    LaplaceWeights,
    LatentDistribution,
    ProceduralShapes,
    SceneConfig,
    TaskSampler,
    make_targets,
    weight_distribution,
)


def _raw_standardized(grid):
    raw = grid.all_values()
    return (raw - raw.mean(0)) / raw.std(0, unbiased=False)


def test_noise_free_latents_are_the_standardized_grid(small_grid):
    latents = LatentDistribution(small_grid, alpha=0.0, rho=0.0)
    assert torch.allclose(latents.latents, _raw_standardized(small_grid))
    assert torch.allclose(latents.latents.mean(0), torch.zeros(6, dtype=torch.float64), atol=1e-12)
    assert torch.allclose(
        latents.latents.std(0, unbiased=False), torch.ones(6, dtype=torch.float64)
    )


def test_latent_noise_stays_within_half_a_gap(small_grid):
    noisy = LatentDistribution(small_grid, alpha=0.5, noise_seed=3)
    again = LatentDistribution(small_grid, alpha=0.5, noise_seed=3)
    assert torch.equal(noisy.latents, again.latents)  # drawn once, with a fixed seed
    half_width = torch.as_tensor(0.5 * small_grid.gaps / 2)
    assert (noisy.offsets.abs() <= half_width).all()
    assert (noisy.offsets.abs().amax(0) > 0.9 * half_width).all()
    raw = small_grid.all_values() + noisy.offsets
    expected = (raw - raw.mean(0)) / raw.std(0, unbiased=False)
    assert torch.allclose(noisy.latents, expected)


def test_correlated_density_on_the_support(small_grid):
    latents = LatentDistribution(small_grid, alpha=0.0, rho=0.5)
    z = latents.latents
    sigma = torch.full((6, 6), 0.5, dtype=torch.float64).fill_diagonal_(1.0)
    log_density = -0.5 * (z @ torch.linalg.inv(sigma) * z).sum(1)
    expected = torch.softmax(log_density, 0)
    assert torch.allclose(latents.probabilities, expected)
    assert latents.probabilities.sum().item() == pytest.approx(1.0)
    sample = latents.sample((20_000,), torch.Generator().manual_seed(0))
    empirical = torch.bincount(sample, minlength=small_grid.num_points) / 20_000
    assert (empirical - expected).abs().max() < 0.01


@pytest.mark.parametrize(("alpha", "rho"), [(-0.1, 0.0), (1.5, 0.0), (0.0, 1.0), (0.0, -0.2)])
def test_latent_arguments_are_checked(small_grid, alpha, rho):
    with pytest.raises(ValueError, match="alpha|rho"):
        LatentDistribution(small_grid, alpha=alpha, rho=rho)


def test_weight_distributions():
    g = torch.Generator().manual_seed(0)
    w = BernoulliGaussianWeights(0.5).sample(4000, 6, g)
    support = w != 0
    assert support.any(1).all()  # never an empty support
    # Bernoulli(0.5) conditioned on non-empty: E|S| = 3 / (1 - 2^-6).
    assert support.sum(1).double().mean().item() == pytest.approx(3 / (1 - 2**-6), abs=0.08)
    for block in (2, 3, 6):
        s = BlockGaussianWeights(block).sample(500, 6, g) != 0
        assert (s.sum(1) == block).all()
        starts = s.float().argmax(1)
        assert (starts % block == 0).all()
        assert len(set(starts.tolist())) == 6 // block
    laplace = LaplaceWeights(1.0).sample(20_000, 6, g)
    assert (laplace != 0).all()
    assert laplace.abs().mean().item() == pytest.approx(1.0, abs=0.03)  # E|w| = b
    with pytest.raises(ValueError, match="block_size"):
        BlockGaussianWeights(4).sample(1, 6, g)
    with pytest.raises(ValueError, match="weights"):
        weight_distribution("gaussian")


def test_targets_have_the_noise_to_signal_ratio():
    g = torch.Generator().manual_seed(0)
    z = torch.randn(5, 50, 6, dtype=torch.float64, generator=g)
    w = torch.randn(5, 6, dtype=torch.float64, generator=g)
    y = make_targets(z, w, 0.1, g)
    signal = (z @ w.unsqueeze(-1)).squeeze(-1)
    ratio = (y - signal).norm(dim=-1) / signal.norm(dim=-1)
    assert torch.allclose(ratio, torch.full((5,), 0.1, dtype=torch.float64))


@pytest.fixture(scope="module")
def sampler(small_grid):
    source = ProceduralShapes(small_grid, SceneConfig(image_size=16, supersample=1))
    latents = LatentDistribution(small_grid, alpha=1.0, rho=0.9)
    return TaskSampler(
        source, latents, weight_distribution("bernoulli"), num_tasks=4, n_samples=10, seed=7
    )


def test_sampler_batch_shapes_and_consistency(sampler):
    batch = sampler.sample(0)
    assert batch.images.shape == (4, 10, 3, 16, 16)
    assert batch.latents.shape == (4, 10, 6) and batch.targets.shape == (4, 10)
    assert batch.weights.shape == (4, 6) and batch.indices.shape == (4, 10)
    assert torch.equal(batch.latents, sampler.latents.latents[batch.indices].float())
    assert torch.equal(batch.images, sampler.source.images(batch.indices))
    signal = (batch.latents.double() @ batch.weights.double().unsqueeze(-1)).squeeze(-1)
    ratio = (batch.targets.double() - signal).norm(dim=-1) / signal.norm(dim=-1)
    assert torch.allclose(ratio, torch.full((4,), 0.1, dtype=torch.float64), atol=1e-5)


def test_sampler_is_seeded_per_step_and_task(sampler):
    first, again, other = sampler.sample(3), sampler.sample(3), sampler.sample(4)
    assert torch.equal(first.indices, again.indices) and torch.equal(first.targets, again.targets)
    assert not torch.equal(first.indices, other.indices)
    shard = sampler.sample(3, task_ids=[1, 3])  # what a data-parallel rank draws
    assert torch.equal(shard.targets, first.targets[[1, 3]])
    assert torch.equal(shard.images, first.images[[1, 3]])
    with pytest.raises(ValueError, match="task_ids"):
        sampler.sample(0, task_ids=[4])
