"""Template waveform normalization for NEMO (pure numpy).

Peak channel (largest absolute value), flipped so the main peak is negative, window ``[-ms_before, +ms_after]``
around the main peak, resampled with a cubic spline onto ``num_samples`` points whatever the sampling rate
(90 samples = 3 ms on a 30 kHz grid), minus the baseline (median of the first ``baseline_ms``), divided by the
absolute value of the main peak. Optionally the nearest channels to the peak channel are kept too.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.interpolate import CubicSpline

from .config import WaveformConfig

__all__ = ["normalize_templates", "normalise_templates", "nearest_channels"]


def nearest_channels(channel_locations: np.ndarray | None, peak_channels: np.ndarray, num_channels: int) -> np.ndarray:
    """Indices of the ``num_channels`` channels nearest to each peak channel (itself first); -1 = missing.

    Parameters
    ----------
    channel_locations : np.ndarray | None, shape (num_channels_total, 2 or 3)
    peak_channels : np.ndarray, shape (num_units,)
    num_channels : int

    Returns
    -------
    np.ndarray, shape (num_units, num_channels), int64
    """
    peak_channels = np.asarray(peak_channels, dtype=np.int64)
    out = np.full((peak_channels.size, num_channels), -1, dtype=np.int64)
    if num_channels == 1:
        out[:, 0] = peak_channels
        return out
    if channel_locations is None:
        raise ValueError("channel_locations are needed for multi-channel templates")
    loc = np.asarray(channel_locations, dtype=np.float64)
    dist = np.linalg.norm(loc[peak_channels][:, None, :] - loc[None, :, :], axis=-1)
    order = np.lexsort((np.broadcast_to(np.arange(loc.shape[0]), dist.shape), dist), axis=-1)
    keep = min(num_channels, loc.shape[0])
    out[:, :keep] = order[:, :keep]
    return out


def normalize_templates(
    templates: np.ndarray,
    sampling_frequency: float,
    nbefore: int,
    config: WaveformConfig = WaveformConfig(),
    channel_locations: np.ndarray | None = None,
) -> np.ndarray:
    """Normalized waveforms of unit templates.

    Parameters
    ----------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
        Average waveforms (dense), in any unit.
    sampling_frequency : float
        Sampling rate of the templates (Hz).
    nbefore : int
        Sample of the templates' alignment point (used when ``config.align_on_peak`` is False).
    config : WaveformConfig
    channel_locations : np.ndarray | None, shape (num_channels, 2 or 3), default: None
        Needed only for ``config.num_channels > 1``.

    Returns
    -------
    np.ndarray, shape (num_units, config.num_channels, config.num_samples), float32
        Peak channel first; the main peak is -1 at sample ``num_samples * ms_before / (ms_before + ms_after)``
        (when aligned on the peak); all-zero templates give zeros.
    """
    templates = np.asarray(templates, dtype=np.float64)
    if templates.ndim != 3:
        raise ValueError("templates must have shape (num_units, num_samples, num_channels)")
    if sampling_frequency <= 0:
        raise ValueError("sampling_frequency must be positive")
    num_units, num_samples, _ = templates.shape
    out = np.zeros((num_units, config.num_channels, config.num_samples), dtype=np.float32)
    if num_units == 0:
        return out
    # remove a constant offset per channel first so that the peak search sees deflections only
    n_head = int(np.clip(round(config.baseline_ms * sampling_frequency / 1000.0), 1, max(1, num_samples // 3)))
    templates = templates - np.median(templates[:, :n_head, :], axis=1, keepdims=True)
    abs_t = np.abs(templates)
    peak_channel = abs_t.max(axis=1).argmax(axis=1)
    units = np.arange(num_units)
    peak_trace = templates[units, :, peak_channel]
    peak_sample = np.abs(peak_trace).argmax(axis=1)
    sign = np.sign(peak_trace[units, peak_sample])
    sign[sign == 0] = 1.0
    channels = nearest_channels(channel_locations, peak_channel, config.num_channels)
    duration_ms = config.ms_before + config.ms_after
    target_ms = -config.ms_before + np.arange(config.num_samples) * duration_ms / config.num_samples
    offsets = target_ms * sampling_frequency / 1000.0
    n_base = max(1, int(round(config.num_samples * config.baseline_ms / duration_ms)))
    zero_index = int(round(config.ms_before * config.num_samples / duration_ms))
    sample_axis = np.arange(num_samples)
    for u in range(num_units):
        centre = peak_sample[u] if config.align_on_peak else nbefore
        positions = np.clip(centre + offsets, 0, num_samples - 1)
        chans = channels[u]
        present = chans >= 0
        traces = templates[u][:, chans[present]] * (-sign[u])
        if num_samples >= 4:
            values = CubicSpline(sample_axis, traces, axis=0)(positions)
        else:
            values = np.stack([np.interp(positions, sample_axis, tr) for tr in traces.T], axis=1)
        baseline = np.median(values[:n_base, 0])
        values = values - baseline
        if config.align_on_peak:
            peak_value = values[zero_index, 0]
        else:
            peak_value = values[np.abs(values[:, 0]).argmax(), 0]
        if abs(peak_value) < 1e-12:
            continue
        out[u, present, :] = (values / abs(peak_value)).T
    return out


def normalise_templates(*args, **kwargs) -> np.ndarray:
    """Deprecated spelling of :func:`normalize_templates` (the project writes "normalize"); goes in the next release."""
    warnings.warn(
        "normalise_templates is now normalize_templates; the old spelling goes in the next release",
        DeprecationWarning,
        stacklevel=2,
    )
    return normalize_templates(*args, **kwargs)
