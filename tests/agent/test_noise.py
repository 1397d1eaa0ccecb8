"""Exploration noise: OU mean reversion and stationary statistics, Gaussian scale, state."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from xapps.agent import GaussianNoise, OrnsteinUhlenbeckNoise, make_noise


def test_ou_without_diffusion_decays_geometrically_to_the_mean() -> None:
    ou = OrnsteinUhlenbeckNoise((3,), 0.0, torch.Generator(), theta=0.2, dt=0.5, mu=1.0)
    ou.x = torch.tensor([5.0, -3.0, 1.0])
    for _ in range(20):
        x = ou.sample()
    expected = 1.0 + (torch.tensor([4.0, -4.0, 0.0])) * (1 - 0.2 * 0.5) ** 20
    torch.testing.assert_close(x, expected)


def test_ou_stationary_mean_variance_and_autocorrelation() -> None:
    theta, dt, sigma = 0.15, 1.0, 0.2
    ou = OrnsteinUhlenbeckNoise((4000,), sigma, torch.Generator().manual_seed(0), theta=theta)
    for _ in range(100):  # burn-in: (1 − θ)^100 ≈ 1e-7 of the start remains
        ou.sample()
    xs = torch.stack([ou.sample() for _ in range(200)]).numpy().astype(np.float64)
    var = sigma**2 * dt / (1 - (1 - theta * dt) ** 2)
    assert abs(xs.mean()) < 0.01  # sd of the mean ≈ 0.38/√(4000·~30 eff. samples) ≈ 0.001
    assert xs.var() == pytest.approx(var, rel=0.05)
    lag1 = np.mean(xs[1:] * xs[:-1]) / np.mean(xs * xs)
    assert lag1 == pytest.approx(1 - theta * dt, abs=0.02)


def test_ou_reset_and_state_round_trip() -> None:
    ou = make_noise("ou", (2,), 0.3, seed=4)
    for _ in range(5):
        ou.sample()
    copy = make_noise("ou", (2,), 0.3, seed=99)
    copy.load_state_dict(ou.state_dict())
    assert torch.equal(copy.sample(), ou.sample())
    ou.reset()
    assert torch.equal(ou.x, torch.zeros(2))


def test_gaussian_scale_and_independence() -> None:
    g = GaussianNoise((20000,), 0.1, torch.Generator().manual_seed(1))
    a, b = g.sample().numpy(), g.sample().numpy()
    assert a.std() == pytest.approx(0.1, rel=0.03)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.03
    with pytest.raises(ValueError, match="noise kind"):
        make_noise("pink", (1,), 0.1, seed=0)  # type: ignore[arg-type]
