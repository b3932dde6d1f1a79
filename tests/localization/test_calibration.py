"""Posterior coverage and its calibration on Gaussian toys with a known answer."""

import numpy as np
import pytest

from si_amortized.localization.calibration import calibration_scale, gaussian_coverage, posterior_coverage


def test_gaussian_coverage_values():
    assert gaussian_coverage(1.0) == pytest.approx(0.6827, abs=1e-4)
    assert gaussian_coverage(2.0) == pytest.approx(0.9545, abs=1e-4)


def test_coverage_of_a_calibrated_gaussian_posterior_is_68_and_95_percent():
    rng = np.random.default_rng(0)
    truth = rng.normal(0, 50, (200_000, 3))
    std = rng.uniform(2.0, 10.0, (200_000, 3))
    estimates = truth + rng.normal(0, 1, truth.shape) * std
    cov = posterior_coverage(estimates, std, truth)
    np.testing.assert_allclose(cov, [[0.6827] * 3, [0.9545] * 3], atol=0.005)


def test_calibration_scale_recovers_an_over_confident_factor_per_axis():
    rng = np.random.default_rng(1)
    factors = np.array([2.0, 0.5, 3.0])  # the reported std is factor times too small (or too large)
    truth = np.zeros((100_000, 3))
    std = rng.uniform(1.0, 4.0, truth.shape)
    estimates = rng.normal(0, 1, truth.shape) * std * factors
    scale = calibration_scale(estimates, std, truth)
    np.testing.assert_allclose(scale, factors, rtol=0.02)
    after = posterior_coverage(estimates, std * scale, truth)
    np.testing.assert_allclose(after, [[0.6827] * 3, [0.9545] * 3], atol=0.01)


def test_non_finite_rows_are_left_out_per_axis():
    truth = np.zeros((4, 2))
    estimates = np.array([[0.5, np.nan], [3.0, 0.5], [0.5, 0.5], [np.nan, 3.0]])
    cov = posterior_coverage(estimates, np.ones((4, 2)), truth, num_std=(1.0,))
    np.testing.assert_allclose(cov, [[2 / 3, 2 / 3]])
