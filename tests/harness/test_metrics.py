import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from harness.metrics import dci, importance_matrix, mcc, multiple_correlation

N, D = 5000, 6


@pytest.fixture(scope="module")
def z():
    # Uniform latents (non-Gaussian, as on the 3D Shapes grid).
    return np.random.default_rng(0).uniform(-1, 1, (N, D))


def test_permutation_and_scaling_scores_one(z):
    rng = np.random.default_rng(1)
    mixing = np.eye(D)[rng.permutation(D)] * rng.uniform(0.5, 3, D) * rng.choice([-1, 1], D)
    z_hat = z @ mixing + 5.0  # plus an offset
    assert mcc(z, z_hat) == pytest.approx(1.0)
    assert multiple_correlation(z, z_hat) == pytest.approx(1.0)
    scores = dci(z, z_hat)
    assert scores.disentanglement == pytest.approx(1.0)
    assert scores.completeness == pytest.approx(1.0)


def test_rotation_keeps_r_but_not_mcc(z):
    z_hat = z @ ortho_group.rvs(D, random_state=2)
    assert multiple_correlation(z, z_hat) == pytest.approx(1.0)
    assert mcc(z, z_hat) < 0.9
    scores = dci(z, z_hat)
    assert scores.disentanglement < 0.5 and scores.completeness < 0.5


def test_independent_noise_scores_near_zero(z):
    z_hat = np.random.default_rng(3).normal(size=(N, D))
    assert mcc(z, z_hat) < 0.05
    assert multiple_correlation(z, z_hat) < 0.08
    # DCI of a random importance matrix is not exactly 0 (random |coef| are not uniform):
    # about 0.1 for 6 x 6.
    scores = dci(z, z_hat)
    assert scores.disentanglement < 0.25 and scores.completeness < 0.25


def test_more_codes_than_factors_and_torch_inputs(z):
    extra = np.random.default_rng(4).normal(size=(N, 2))
    z_hat = torch.from_numpy(np.concatenate([z[:, ::-1], extra], 1))
    assert mcc(torch.from_numpy(z), z_hat) == pytest.approx(1.0)
    assert multiple_correlation(z, z_hat) == pytest.approx(1.0)
    assert importance_matrix(z, z_hat).shape == (8, 6)
    assert dci(z, z_hat).completeness == pytest.approx(1.0)


def test_bad_inputs_name_the_argument(z):
    with pytest.raises(ValueError, match="z_hat"):
        mcc(z, z[:10])
    with pytest.raises(ValueError, match="z_hat"):
        mcc(z, np.ones((N, D)))
    with pytest.raises(ValueError, match="z:"):
        mcc(z[:, 0], z)
    with pytest.raises(ValueError, match="z_hat"):
        dci(z, np.full((N, D), np.nan))


def test_matched_correlations_orders_features_by_the_assignment() -> None:
    from harness.metrics import matched_correlations

    rng = np.random.default_rng(0)
    z = rng.standard_normal((400, 4))
    z_hat = np.stack([z[:, 2], -3 * z[:, 0], z[:, 3] + 0.1 * rng.standard_normal(400), z[:, 1]], 1)
    corr, order = matched_correlations(z, z_hat)
    assert order.tolist() == [1, 3, 0, 2]
    np.testing.assert_allclose(np.diagonal(corr), [1, 1, 1, 0.995], atol=5e-3)
    assert np.mean(np.diagonal(corr)) == pytest.approx(mcc(z, z_hat))
