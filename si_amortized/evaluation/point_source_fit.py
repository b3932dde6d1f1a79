"""The point-source floor: the best a point-source amplitude model can place each unit's soma.

A point-source localizer (the VAE's exponential-decay decoder, ``monopolar_triangulation``'s 1/r)
explains a spike's channel amplitudes by one source. Fitted by least squares to a unit's
noise-free, averaged template, it gives the location such a model would report for every spike
of the unit if there were no noise and no overlapping spikes; its distance to the soma is the part
of the localization error that comes from the model itself (dendrites, axon and the soma's
distance from the probe move the amplitude's centre away from the soma). The spike-weighted mean
of that distance is a floor that no per-spike estimate under the same model can be expected to
beat on that recording.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import least_squares

AMPLITUDE_MODELS = ("exponential", "inverse_distance")


def point_source_amplitudes(
    source: np.ndarray, log_a: float, channel_xy: np.ndarray, model: str = "exponential", decay_length_um: float = 28.0
) -> np.ndarray:
    """Amplitudes of a point source at ``source`` on channels in the plane z = 0.

    Parameters
    ----------
    source : np.ndarray, shape (3,)
        x, y in the probe plane and z, the distance from it (um).
    log_a : float
        Log of the source amplitude (``a`` in ``a * exp(-r / decay_length_um)`` or ``a / r``).
    channel_xy : np.ndarray, shape (num_channels, 2)
    model : "exponential" | "inverse_distance", default: "exponential"
    decay_length_um : float, default: 28.0
        Decay length of the exponential model (ignored by ``inverse_distance``).

    Returns
    -------
    np.ndarray, shape (num_channels,)
    """
    if model not in AMPLITUDE_MODELS:
        raise ValueError(f"model must be one of {AMPLITUDE_MODELS}, not {model!r}")
    r = np.sqrt(((np.asarray(channel_xy, float) - source[:2]) ** 2).sum(axis=1) + source[2] ** 2)
    if model == "exponential":
        return np.exp(log_a - r / decay_length_um)
    return np.exp(log_a) / np.maximum(r, 1e-6)


def fit_template_sources(
    templates: np.ndarray,
    channel_locations: np.ndarray,
    half_width_um: float = 20.0,
    model: str = "exponential",
    decay_length_um: float = 28.0,
    max_offset_um: float = 100.0,
) -> np.ndarray:
    """Least-squares point source of each template's negative-peak amplitudes.

    The amplitudes are fitted on the square neighbourhood of the template's peak channel (the
    channels within ``half_width_um`` on both axes, as the VAE sees a spike), with the source kept
    within ``max_offset_um`` of the peak channel in the plane and between 0 and ``max_offset_um``
    from it.

    Parameters
    ----------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
        Average waveforms in microvolts (negative spikes).
    channel_locations : np.ndarray, shape (num_channels, 2)
    half_width_um : float, default: 20.0
    model : "exponential" | "inverse_distance", default: "exponential"
    decay_length_um : float, default: 28.0
    max_offset_um : float, default: 100.0

    Returns
    -------
    np.ndarray, shape (num_units, 3)
        x, y in the plane and z (distance from it), um; NaN for a template without a negative peak.
    """
    templates = np.asarray(templates, float)
    xy = np.asarray(channel_locations, float)[:, :2]
    if templates.ndim != 3 or templates.shape[2] != xy.shape[0]:
        raise ValueError(
            f"templates must have shape (num_units, num_samples, {xy.shape[0]}), got {templates.shape}"
        )
    amplitudes = np.maximum(-templates.min(axis=1), 0.0)
    sources = np.full((templates.shape[0], 3), np.nan)
    for unit, amp in enumerate(amplitudes):
        peak = int(np.argmax(amp))
        if amp[peak] <= 0:
            continue
        near = np.all(np.abs(xy - xy[peak]) <= half_width_um + 1e-6, axis=1)
        target, channels = amp[near], xy[near]

        def residuals(p):
            return point_source_amplitudes(p[:3], p[3], channels, model, decay_length_um) - target

        start_z = 20.0
        start_log_a = np.log(amp[peak]) + (start_z / decay_length_um if model == "exponential" else np.log(start_z))
        start = np.array([xy[peak, 0], xy[peak, 1], start_z, start_log_a])
        lower = [xy[peak, 0] - max_offset_um, xy[peak, 1] - max_offset_um, 0.0, -np.inf]
        upper = [xy[peak, 0] + max_offset_um, xy[peak, 1] + max_offset_um, max_offset_um, np.inf]
        sources[unit] = least_squares(residuals, start, bounds=(lower, upper)).x[:3]
    return sources
