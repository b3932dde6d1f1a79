"""Posterior coverage and its calibration on Gaussian toys with a known answer."""

import numpy as np
import pytest

from si_amortized.localization.calibration import (
    calibration_scale,
    calibration_scale_and_floor,
    gaussian_coverage,
    posterior_coverage,
)


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


def test_scale_and_floor_recover_a_posterior_that_misses_a_constant_error_part():
    # errors = the posterior's own spread times s0, plus a part it does not see (std f0): no single factor
    # gives 68 % and 95 % at once, the factor and floor do
    rng = np.random.default_rng(0)
    n = 40_000
    std = rng.uniform(1.0, 6.0, size=(n, 2))
    s0, f0 = np.array([1.5, 0.7]), np.array([4.0, 2.0])
    truth = np.zeros((n, 2))
    estimates = rng.normal(0.0, np.sqrt((s0 * std) ** 2 + f0**2))
    scale, floor = calibration_scale_and_floor(estimates, std, truth)
    # two coverages pin the pair only loosely (a larger floor trades against a smaller factor)
    np.testing.assert_allclose(scale, s0, rtol=0.25)
    np.testing.assert_allclose(floor, f0, rtol=0.25)
    coverage = posterior_coverage(estimates, np.sqrt((scale * std) ** 2 + floor**2), truth)
    np.testing.assert_allclose(coverage[0], gaussian_coverage(1.0), atol=0.005)
    np.testing.assert_allclose(coverage[1], gaussian_coverage(2.0), atol=0.01)
    # one factor alone: right at one standard deviation, short at two
    single = posterior_coverage(estimates, std * calibration_scale(estimates, std, truth), truth)
    assert np.all(single[1] < gaussian_coverage(2.0) - 0.015)
    # a calibrated posterior needs no floor; an axis without data is left alone
    calibrated = rng.normal(0.0, std)
    scale, floor = calibration_scale_and_floor(calibrated, std, truth)
    np.testing.assert_allclose(scale, 1.0, atol=0.08)
    assert np.all(floor < 1.0)  # against spreads of 1-6
    empty = np.full((10, 1), np.nan)
    assert calibration_scale_and_floor(empty, empty, empty) == (np.ones(1), np.zeros(1))
