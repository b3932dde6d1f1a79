"""Overlapping spikes of a sorting: subtract the other units' templates before a spike is localized (numpy only).

When spikes come from a sorting, each spike whose window overlaps another unit's spike is localized
from a copy of the traces around it from which the templates of the overlapping spikes (scaled to
each spike's own amplitude) were subtracted; the others are localized from the traces as they are.
"""

from __future__ import annotations

import numpy as np

__all__ = ["overlapping_spikes", "template_scales", "cleaned_windows"]


def overlapping_spikes(sample_index: np.ndarray, targets: np.ndarray, max_distance: int) -> list[np.ndarray]:
    """For each target spike, the other spikes within ``max_distance`` samples.

    Parameters
    ----------
    sample_index : np.ndarray, shape (num_spikes,)
        Sorted spike times (samples).
    targets : np.ndarray, shape (num_targets,)
        Indices (into ``sample_index``) of the spikes to look around.
    max_distance : int

    Returns
    -------
    list of np.ndarray
        Indices of the overlapping spikes of each target (the target itself excluded).
    """
    sample_index = np.asarray(sample_index, dtype=np.int64)
    lo = np.searchsorted(sample_index, sample_index[targets] - max_distance, side="left")
    hi = np.searchsorted(sample_index, sample_index[targets] + max_distance, side="right")
    return [np.concatenate((np.arange(a, t), np.arange(t + 1, b))) for t, a, b in zip(np.asarray(targets), lo, hi)]


def template_scales(
    traces: np.ndarray,
    sample_index: np.ndarray,
    unit_index: np.ndarray,
    templates: np.ndarray,
    nbefore: int,
    main_channels: np.ndarray,
    bounds: tuple = (0.5, 2.0),
) -> np.ndarray:
    """Amplitude of each spike relative to its unit's template: least squares on the unit's main channel.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels)
    sample_index, unit_index : np.ndarray, shape (num_spikes,)
    templates : np.ndarray, shape (num_units, num_template_samples, num_channels)
    nbefore : int
        Template sample of the spike time.
    main_channels : np.ndarray, shape (num_units,)
    bounds : tuple of float, default: (0.5, 2.0)
        The scale is clipped to this range (an overlapping spike on the same channel biases it).

    Returns
    -------
    np.ndarray, shape (num_spikes,)
        1.0 for a spike whose window leaves the traces.
    """
    num_samples = traces.shape[0]
    length = templates.shape[1]
    scales = np.ones(np.asarray(sample_index).size)
    starts = np.asarray(sample_index, dtype=np.int64) - nbefore
    inside = np.flatnonzero((starts >= 0) & (starts + length <= num_samples))
    if inside.size:
        units = np.asarray(unit_index)[inside]
        channels = np.asarray(main_channels)[units]
        shapes = templates[units, :, channels]  # (num_inside, length)
        observed = np.nan_to_num(traces[starts[inside, None] + np.arange(length), channels[:, None]])
        norm = np.einsum("ij,ij->i", shapes, shapes)
        dot = np.einsum("ij,ij->i", observed, shapes)
        scales[inside] = np.where(norm > 0, dot / np.where(norm > 0, norm, 1.0), 1.0)
    return np.clip(scales, *bounds)


def cleaned_windows(
    traces: np.ndarray,
    sample_index: np.ndarray,
    unit_index: np.ndarray,
    templates: np.ndarray,
    nbefore: int,
    targets: np.ndarray,
    neighbours: list[np.ndarray],
    half_window: int,
    scales: np.ndarray | None = None,
) -> np.ndarray:
    """Windows of the traces around target spikes, minus the scaled templates of their overlapping spikes.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels)
    sample_index, unit_index : np.ndarray, shape (num_spikes,)
    templates : np.ndarray, shape (num_units, num_template_samples, num_channels)
    nbefore : int
        Template sample of the spike time.
    targets : np.ndarray, shape (num_targets,)
        Indices of the spikes to clean around.
    neighbours : list of np.ndarray
        Overlapping spikes of each target (:func:`overlapping_spikes`).
    half_window : int
        Each window spans ``[t - half_window, t + half_window]`` (zero outside the traces).
    scales : np.ndarray | None, shape (num_spikes,)
        Amplitude of each spike relative to its template (None: 1).

    Returns
    -------
    np.ndarray, shape (num_targets, 2 * half_window + 1, num_channels)
        float32; the target spike sits at sample ``half_window`` of its window.
    """
    num_samples, num_channels = traces.shape
    width = 2 * half_window + 1
    length = templates.shape[1]
    out = np.zeros((len(targets), width, num_channels), dtype="float32")
    for row, (target, others) in enumerate(zip(targets, neighbours)):
        start = int(sample_index[target]) - half_window
        lo, hi = max(start, 0), min(start + width, num_samples)
        out[row, lo - start : hi - start] = traces[lo:hi]
        for j in others:
            # template of spike j in window coordinates: its sample 0 at sample_index[j] - nbefore
            offset = int(sample_index[j]) - nbefore - start
            a, b = max(offset, 0), min(offset + length, width)
            if a >= b:
                continue
            scale = 1.0 if scales is None else float(scales[j])
            out[row, a:b] -= scale * templates[unit_index[j], a - offset : b - offset]
    return out
