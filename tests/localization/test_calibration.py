"""Posterior coverage and its calibration on Gaussian toys with a known answer."""

import numpy as np
import pytest

from si_amortized.localization.calibration import (
    calibration_scale,
    calibration_scale_and_floor,
    coverage_unit_interval,
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


def _biased_units(rng, num_units, spikes_per_unit=40):
    """Spikes whose error is a bias per unit (std 3) plus scatter (std 1), against a reported std of 2."""
    bias = rng.normal(0.0, 3.0, size=(num_units, 2))
    unit = np.repeat(np.arange(num_units), spikes_per_unit)
    estimates = bias[unit] + rng.normal(0.0, 1.0, size=(unit.size, 2))
    return estimates, np.full(estimates.shape, 2.0), np.zeros(estimates.shape), unit


def test_unit_interval_covers_the_population_coverage_and_narrows_with_more_units():
    rng = np.random.default_rng(3)
    # the population's coverage at 1 and 2 reported sd: the error is Gaussian with std sqrt(10)
    population = np.array([gaussian_coverage(2.0 / np.sqrt(10.0)), gaussian_coverage(4.0 / np.sqrt(10.0))])
    covered, widths = 0, {}
    for trial in range(40):
        estimates, std, truth, unit = _biased_units(rng, 30)
        low, high = coverage_unit_interval(estimates, std, truth, unit, num_resamples=300, seed=trial)
        point = posterior_coverage(estimates, std, truth)
        assert np.all(low <= point) and np.all(point <= high)
        covered += int(np.all((low[:, 0] <= population) & (population <= high[:, 0])))
        widths.setdefault(30, []).append(float(np.mean(high - low)))
    # two 95 % intervals at once from 30 units: 88 % of 200 such trials (percentile bootstraps run a little
    # short with few clusters); 30 of 40 is 2.5 sd below that
    assert covered >= 30
    for trial in range(5):
        estimates, std, truth, unit = _biased_units(rng, 480)
        low, high = coverage_unit_interval(estimates, std, truth, unit, num_resamples=300, seed=trial)
        widths.setdefault(480, []).append(float(np.mean(high - low)))
    # 16 times the units: the interval about 4 times narrower
    assert 2.5 < np.mean(widths[30]) / np.mean(widths[480]) < 6.5


def test_unit_interval_ignores_spike_level_scatter_that_a_spike_bootstrap_would_see():
    # every unit's spikes at the same error: the interval is that of the units, however many spikes
    unit = np.repeat(np.arange(4), [1, 1, 1, 1000])
    estimates = np.where(unit == 3, 0.5, 3.0)[:, None]  # unit 3 inside 1 sd, the others outside
    low, high = coverage_unit_interval(estimates, np.ones_like(estimates), np.zeros_like(estimates), unit,
                                       num_std=(1.0,), num_resamples=400, seed=0)
    # resamples without unit 3 (about (3/4)^4 = 32 %) have coverage 0; with it, near 1
    assert low[0, 0] == 0.0 and high[0, 0] > 0.99
