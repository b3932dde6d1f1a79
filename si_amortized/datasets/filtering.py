"""MEArec's band-pass filter (3rd-order Butterworth, 300-6000 Hz, zero phase) applied to templates and noise,
so that synthetic data look like what a filtered MEArec recording shows."""

from __future__ import annotations

import numpy as np

__all__ = ["band_pass", "band_pass_templates", "band_passed_noise", "MEAREC_BAND_HZ"]

#: MEArec's default filter band (``filter_cutoff``), Hz.
MEAREC_BAND_HZ = (300.0, 6000.0)


def band_pass(signal: np.ndarray, axis: int, sampling_frequency: float, band: tuple = MEAREC_BAND_HZ) -> np.ndarray:
    """Zero-phase 3rd-order Butterworth band-pass along ``axis`` (the upper edge capped at 0.45 fs), float64."""
    from scipy.signal import butter, sosfiltfilt

    high = min(band[1], 0.45 * sampling_frequency)
    sos = butter(3, [band[0], high], btype="bandpass", fs=sampling_frequency, output="sos")
    return sosfiltfilt(sos, signal, axis=axis)


def band_pass_templates(templates: np.ndarray, sampling_frequency: float, band: tuple = MEAREC_BAND_HZ) -> np.ndarray:
    """Templates as a band-passed recording shows them (zero-padded on both sides before filtering).

    Parameters
    ----------
    templates : np.ndarray, shape (num_templates, num_samples, num_channels)

    Returns
    -------
    np.ndarray, same shape, float32
    """
    pad = templates.shape[1]
    padded = np.pad(np.asarray(templates, dtype="float64"), ((0, 0), (pad, pad), (0, 0)))
    return band_pass(padded, 1, sampling_frequency, band)[:, pad:-pad].astype("float32")


def band_passed_noise(rng, num_samples: int, num_channels: int, sampling_frequency: float,
                      band: tuple = MEAREC_BAND_HZ) -> np.ndarray:
    """White Gaussian noise band-passed and scaled to unit standard deviation per channel.

    Returns
    -------
    np.ndarray, shape (num_samples, num_channels), float32
    """
    noise = band_pass(rng.standard_normal((num_samples, num_channels)), 0, sampling_frequency, band)
    return (noise / noise.std(axis=0, keepdims=True)).astype("float32")
