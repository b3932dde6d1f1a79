"""Coverage of the localizer's posterior, and the per-axis factor that calibrates it (numpy only)."""

from __future__ import annotations

import numpy as np
from scipy.special import erf

__all__ = ["posterior_coverage", "calibration_scale", "gaussian_coverage"]


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
