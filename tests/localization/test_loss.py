"""Losses of the VAE localizer against naive formulas."""

import math

import numpy as np
import torch

from si_amortized.localization import gaussian_kl_to_prior, masked_squared_error, negative_elbo


def test_losses_match_naive_formulas():
    rng = np.random.default_rng(1)
    target, pred = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    obs = (rng.random((4, 6)) > 0.3).astype(float)
    mean, var = rng.normal(0, 30, (4, 3)), rng.uniform(0.5, 50, (4, 3))
    naive_mse = np.mean([sum(obs[i, k] * (target[i, k] - pred[i, k]) ** 2 for k in range(6)) for i in range(4)])
    got = masked_squared_error(torch.tensor(target), torch.tensor(pred), torch.tensor(obs))
    assert abs(float(got) - naive_mse) < 1e-9
    s0 = 80.0
    naive_kl = np.mean(
        [
            sum(math.log(s0 / math.sqrt(var[i, d])) + (var[i, d] + mean[i, d] ** 2) / (2 * s0**2) - 0.5 for d in range(3))
            for i in range(4)
        ]
    )
    got_kl = gaussian_kl_to_prior(torch.tensor(mean), torch.tensor(var), s0)
    assert abs(float(got_kl) - naive_kl) < 1e-9
    # a masked axis does not contribute
    mask = torch.tensor([1.0, 0.0, 1.0])
    naive_masked = np.mean(
        [
            sum(math.log(s0 / math.sqrt(var[i, d])) + (var[i, d] + mean[i, d] ** 2) / (2 * s0**2) - 0.5 for d in (0, 2))
            for i in range(4)
        ]
    )
    assert abs(float(gaussian_kl_to_prior(torch.tensor(mean), torch.tensor(var), s0, mask)) - naive_masked) < 1e-9
    total = negative_elbo(torch.tensor(target), torch.tensor(pred), torch.tensor(obs), torch.tensor(mean), torch.tensor(var), s0)
    assert abs(float(total) - naive_mse - naive_kl) < 1e-9
    # KL is zero at the prior
    assert abs(float(gaussian_kl_to_prior(torch.zeros(2, 3), torch.full((2, 3), s0**2), s0))) < 1e-9
