"""Coverage of the localizer's posterior, and the per-axis factor (and floor) that calibrate it (numpy only)."""

from __future__ import annotations

import numpy as np
from scipy.special import erf

__all__ = [
    "posterior_coverage",
    "coverage_unit_interval",
    "calibration_scale",
    "calibration_scale_and_floor",
    "gaussian_coverage",
]


def gaussian_coverage(num_std: float) -> float:
    """Probability that a Gaussian variable lies within ``num_std`` standard deviations of its mean (0.683 for 1)."""
    return float(erf(num_std / np.sqrt(2.0)))


def posterior_coverage(
    estimates: np.ndarray, std: np.ndarray, truth: np.ndarray, num_std: tuple = (1.0, 2.0)
) -> np.ndarray:
    """Share of estimates whose true value lies within ``k`` reported standard deviations, per axis.

    Parameters
    ----------
    estimates, std, truth : np.ndarray, shape (num_spikes, num_axes)
        Rows with a non-finite value on an axis are left out of that axis.
    num_std : tuple of float, default: (1.0, 2.0)

    Returns
    -------
    np.ndarray, shape (len(num_std), num_axes)
        A calibrated Gaussian posterior gives ``gaussian_coverage(k)`` (0.683, 0.954).
    """
    estimates, std, truth = (np.asarray(a, dtype="float64") for a in (estimates, std, truth))
    ratio = np.abs(estimates - truth) / std
    out = np.full((len(num_std), ratio.shape[1]), np.nan)
    for axis in range(ratio.shape[1]):
        r = ratio[:, axis][np.isfinite(ratio[:, axis])]
        if r.size:
            out[:, axis] = [np.mean(r <= k) for k in num_std]
    return out


def coverage_unit_interval(
    estimates: np.ndarray,
    std: np.ndarray,
    truth: np.ndarray,
    unit_index: np.ndarray,
    num_std: tuple = (1.0, 2.0),
    confidence: float = 0.95,
    num_resamples: int = 500,
    seed: int = 0,
) -> np.ndarray:
    """Interval of :func:`posterior_coverage` over resamples of whole units (a cluster bootstrap).

    A localizer's error is mostly a bias per unit, so the spikes of a unit are not independent draws: the
    coverage of a recording of a few dozen units moves by several points with the units that happen to be
    in it. Resampling units with replacement (all spikes of a drawn unit together) gives that spread.

    Parameters
    ----------
    estimates, std, truth : np.ndarray, shape (num_spikes, num_axes)
    unit_index : np.ndarray, shape (num_spikes,)
        The unit of each spike.
    num_std : tuple of float, default: (1.0, 2.0)
    confidence : float, default: 0.95
    num_resamples : int, default: 500
    seed : int, default: 0

    Returns
    -------
    np.ndarray, shape (2, len(num_std), num_axes)
        Lower and upper percentile bounds (``(1 - confidence) / 2`` and ``(1 + confidence) / 2``).
    """
    estimates, std, truth = (np.asarray(a, dtype="float64") for a in (estimates, std, truth))
    unit_index = np.asarray(unit_index)
    inside = np.stack([np.abs(estimates - truth) <= k * std for k in num_std])  # (levels, spikes, axes)
    finite = np.isfinite(np.abs(estimates - truth) / std)
    units, row = np.unique(unit_index, return_inverse=True)
    # per unit: spikes inside, and finite spikes, per level and axis; a resample sums its drawn units
    hits = np.zeros((len(num_std), units.size, estimates.shape[1]))
    counts = np.zeros((units.size, estimates.shape[1]))
    for level in range(len(num_std)):
        np.add.at(hits[level], row, inside[level] & finite)
    np.add.at(counts, row, finite)
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, units.size, size=(num_resamples, units.size))
    weights = np.stack([np.bincount(d, minlength=units.size) for d in draws]).astype("float64")  # (resamples, units)
    with np.errstate(invalid="ignore", divide="ignore"):
        resampled = np.einsum("ru,lua->rla", weights, hits) / (weights @ counts)[:, None, :]
    tail = 50.0 * (1.0 - confidence)
    return np.nanpercentile(resampled, [tail, 100.0 - tail], axis=0)


def calibration_scale(estimates: np.ndarray, std: np.ndarray, truth: np.ndarray, num_std: float = 1.0) -> np.ndarray:
    """Per-axis factor on the standard deviations that makes the ``num_std`` coverage exactly Gaussian.

    The factor is the ``gaussian_coverage(num_std)`` quantile of ``|estimate - truth| / std``, divided
    by ``num_std``; multiplying the standard deviations by it gives 68.3 % coverage at one standard
    deviation on these data.

    Parameters
    ----------
    estimates, std, truth : np.ndarray, shape (num_spikes, num_axes)
    num_std : float, default: 1.0

    Returns
    -------
    np.ndarray, shape (num_axes,)
        1.0 on an axis without finite data.
    """
    estimates, std, truth = (np.asarray(a, dtype="float64") for a in (estimates, std, truth))
    ratio = np.abs(estimates - truth) / std
    scale = np.ones(ratio.shape[1])
    for axis in range(ratio.shape[1]):
        r = ratio[:, axis][np.isfinite(ratio[:, axis])]
        if r.size:
            scale[axis] = max(float(np.quantile(r, gaussian_coverage(num_std))) / num_std, 1e-6)
    return scale


def calibration_scale_and_floor(
    estimates: np.ndarray, std: np.ndarray, truth: np.ndarray, num_grid: int = 200
) -> tuple[np.ndarray, np.ndarray]:
    """Per-axis factor ``s`` and floor ``f`` (um) with which ``sqrt((s * std)^2 + f^2)`` covers the truth at
    68.3 % within one standard deviation and at 95.4 % within two.

    One factor cannot do both when errors have heavier tails than the reported spread (a bias per unit that
    the posterior does not see): the floor is that part of the error. For each floor on a grid (0 to the
    95th percentile of the errors), the factor that gives exactly 68.3 % at one standard deviation is found
    by bisection; the smallest floor whose two-standard-deviation coverage is as near 95.4 % as the best one's,
    within one standard error of that coverage, is kept (a calibrated posterior keeps a zero floor).

    Parameters
    ----------
    estimates, std, truth : np.ndarray, shape (num_spikes, num_axes)
    num_grid : int, default: 200
        Floors tried per axis.

    Returns
    -------
    scale, floor : np.ndarray, shape (num_axes,)
        1.0 and 0.0 on an axis without finite data.
    """
    estimates, std, truth = (np.asarray(a, dtype="float64") for a in (estimates, std, truth))
    error = np.abs(estimates - truth)
    num_axes = error.shape[1]
    scale, floor = np.ones(num_axes), np.zeros(num_axes)
    one, two = gaussian_coverage(1.0), gaussian_coverage(2.0)
    for axis in range(num_axes):
        keep = np.isfinite(error[:, axis]) & np.isfinite(std[:, axis]) & (std[:, axis] > 0)
        if not keep.any():
            continue
        e, sd = error[keep, axis], std[keep, axis]
        tried = []
        for f in np.linspace(0.0, float(np.quantile(e, 0.95)), num_grid):
            s = _scale_for_coverage(e, sd, f, one)
            if s is not None:
                tried.append((abs(np.mean(e <= 2.0 * np.sqrt((s * sd) ** 2 + f * f)) - two), s, f))
        if tried:
            tolerance = np.sqrt(two * (1.0 - two) / e.size)
            best = min(t[0] for t in tried)
            _, scale[axis], floor[axis] = next(t for t in tried if t[0] <= best + tolerance)
    return scale, floor


def _scale_for_coverage(error, std, floor, target, iterations: int = 60):
    """The factor ``s >= 0`` with ``mean(error <= sqrt((s std)^2 + floor^2)) == target`` (bisection), or None
    when the floor alone already covers more than ``target``."""
    coverage = lambda s: np.mean(error <= np.sqrt((s * std) ** 2 + floor * floor))  # noqa: E731
    if coverage(0.0) > target:
        return None
    low, high = 0.0, 1.0
    while coverage(high) < target:
        high *= 2.0
        if high > 1e6:
            return None
    for _ in range(iterations):
        mid = 0.5 * (low + high)
        low, high = (mid, high) if coverage(mid) < target else (low, mid)
    return high
