"""3D autocorrelogram (ACG) images on a log time axis, vectorised over all units at once.

One image per unit, shape ``(num_rate_bins, num_log_bins)`` = (10, 101) by default: row ``d`` is the
autocorrelogram of the trigger spikes whose smoothed instantaneous firing rate falls in rate decile ``d``
(Beau et al. 2025; NEMO, Yu et al. 2025). Pure numpy on a spike vector; no SpikeInterface objects here.

Definitions (ours, close to the reference's NeuroPyxels code but exact rather than gridded):

* instantaneous rate: spike ``k`` owns the interval between the midpoints to its neighbours and the rate
  there is ``1 / length`` (the first and last spikes own a symmetric interval); the boxcar-smoothed rate at a
  spike is the exact mean of this piecewise-constant rate over ``[t - s/2, t + s/2]`` clipped to the span
  where it is defined;
* rate bins: equal-count bins of each unit's spike rates (ranks, so tied rates still fill every bin);
* a trigger spike counts the later spikes of the same unit and segment at lags ``0 < lag <= window/2``;
  triggers closer than ``window/2`` to the end of their segment are skipped (no edge bias);
* linear lag bins of ``bin_ms`` give the spike probability per ms per trigger; each log bin holds the exact
  mean of that piecewise-constant density over the bin (mass preserving), times ``bin_ms * scale``.

Conditioning on the smoothed rate makes short lags (inside the smoothing window) of the high-rate rows
larger even for a Poisson train; beyond the smoothing window, and averaged over the rows, the image of a
Poisson train is flat.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .config import ACGConfig

__all__ = [
    "compute_acg_images",
    "linear_acg_density",
    "resample_log_axis",
    "acg_images_from_linear_acgs",
    "log_lag_edges_ms",
    "smoothed_rates_hz",
]

_MAX_PAIRS_PER_CHUNK = 4_000_000
_EPS_MS = 1e-9


def log_lag_edges_ms(config: ACGConfig = ACGConfig()) -> np.ndarray:
    """Edges of the log lag bins, shape ``(num_log_bins + 1,)``, from ``log_start_ms`` to ``window_ms / 2``."""
    return np.geomspace(config.log_start_ms, config.window_ms / 2, config.num_log_bins + 1)


def _sort_by_group_and_time(sample_indices, unit_indices, segment_indices, num_segments):
    """Order of spikes by (unit, segment, sample) via one int64 key (faster than lexsort)."""
    group = unit_indices.astype(np.int64) * num_segments + segment_indices.astype(np.int64)
    samples = sample_indices.astype(np.int64) - int(sample_indices.min())
    key = group * (int(samples.max()) + 1) + samples
    order = np.argsort(key)  # keys are unique up to duplicated spikes, whose order does not matter
    return order, group[order]


def smoothed_rates_hz(times_ms: np.ndarray, group: np.ndarray, smoothing_ms: float) -> np.ndarray:
    """Boxcar-smoothed inverse-ISI firing rate at each spike.

    Parameters
    ----------
    times_ms : np.ndarray, shape (num_spikes,)
        Spike times sorted by ``group`` then time.
    group : np.ndarray, shape (num_spikes,)
        Non-decreasing group index (one group = one unit in one segment).
    smoothing_ms : float
        Boxcar width.

    Returns
    -------
    np.ndarray, shape (num_spikes,)
        Rate in Hz; NaN for spikes of groups with fewer than 2 spikes.
    """
    n = times_ms.size
    rates = np.full(n, np.nan)
    if n == 0:
        return rates
    starts = np.flatnonzero(np.r_[True, group[1:] != group[:-1]])
    sizes = np.diff(np.r_[starts, n])
    keep = np.repeat(sizes >= 2, sizes)
    if not keep.any():
        return rates
    t = times_ms[keep]
    g = group[keep]
    starts = np.flatnonzero(np.r_[True, g[1:] != g[:-1]])
    sizes = np.diff(np.r_[starts, t.size])
    num_groups = starts.size
    gid = np.repeat(np.arange(num_groups), sizes)
    # breakpoints of each group (local times): left edge, midpoints, right edge -> sizes + 1 per group;
    # the cumulative spike mass is exactly k at breakpoint k (each spike's interval holds mass 1)
    b_starts = starts + np.arange(num_groups)
    breaks = np.empty(t.size + num_groups)
    mask_inner = np.ones(breaks.size, dtype=bool)
    mask_inner[b_starts] = False
    mask_inner[b_starts + sizes] = False
    same_group_next = np.r_[g[1:] == g[:-1], False]
    breaks[mask_inner] = 0.5 * (t[:-1] + t[1:])[same_group_next[:-1]]
    first, second = t[starts], t[starts + 1]
    last, before_last = t[starts + sizes - 1], t[starts + sizes - 2]
    breaks[b_starts] = first - 0.5 * (second - first)
    breaks[b_starts + sizes] = last + 0.5 * (last - before_last)
    # one monotone search axis: groups shifted apart (only used to locate the interval, not for arithmetic)
    span = float(breaks.max() - breaks.min()) + smoothing_ms + 1.0
    bgid = np.repeat(np.arange(num_groups), sizes + 1)
    search_axis = breaks + bgid * 2 * span

    def mass_at(x):
        k = np.searchsorted(search_axis, x + gid * 2 * span, side="right") - 1
        k = np.clip(k, b_starts[gid], b_starts[gid] + sizes[gid] - 1)
        width = breaks[k + 1] - breaks[k]
        frac = np.clip(np.where(width > 0, (x - breaks[k]) / np.where(width > 0, width, 1.0), 1.0), 0.0, 1.0)
        return (k - b_starts[gid]) + frac

    half = smoothing_ms / 2
    lo = np.maximum(t - half, breaks[b_starts][gid])
    hi = np.minimum(t + half, breaks[b_starts + sizes][gid])
    width = np.maximum(hi - lo, 1e-12)
    rates[keep] = 1000.0 * (mass_at(hi) - mass_at(lo)) / width
    return rates


def _count_pairs(samples, group, trig_idx, row, window_samples, fs, bin_ms, n_lin, size):
    """Histogram of the lags to all later spikes of the same group within the window, per trigger row.

    Walks offsets k = 1, 2, ... from each trigger, dropping triggers whose k-th next spike is out of the
    window (lags grow with k), so the work is proportional to the number of pairs. Lags are integers
    (samples), binned through a lookup table; lag 0 (duplicated spike times) goes to a column that is dropped.
    """
    n = samples.size
    samples = samples - int(samples.min())
    offset = int(samples.max()) + window_samples + 1
    shifted = samples + group.astype(np.int64) * offset
    padded = np.append(shifted, shifted[-1] + window_samples + 1)  # sentinel: always out of the window
    lut = np.minimum(np.floor(np.arange(window_samples + 1) * (1000.0 / fs) / bin_ms + 1e-9).astype(np.int64), n_lin - 1)
    lut[0] = n_lin
    width = n_lin + 1
    counts = np.zeros(size // n_lin * width, dtype=np.float64)
    active = trig_idx.copy()
    start_time = shifted[active]
    base = row.astype(np.int64) * width
    pending, pending_size = [], 0
    k = 1
    while active.size:
        lag = padded[np.minimum(active + k, n)] - start_time
        ok = lag <= window_samples
        if not ok.all():
            active, start_time, base, lag = active[ok], start_time[ok], base[ok], lag[ok]
        pending.append(base + lut[lag])
        pending_size += lag.size
        if pending_size > _MAX_PAIRS_PER_CHUNK or not active.size:
            counts += np.bincount(np.concatenate(pending), minlength=counts.size)
            pending, pending_size = [], 0
        k += 1
    if pending:
        counts += np.bincount(np.concatenate(pending), minlength=counts.size)
    return counts.reshape(-1, width)[:, :n_lin].reshape(-1)


def linear_acg_density(
    sample_indices: np.ndarray,
    unit_indices: np.ndarray,
    segment_indices: np.ndarray,
    num_units: int,
    sampling_frequency: float,
    segment_num_samples,
    config: ACGConfig = ACGConfig(),
) -> tuple[np.ndarray, np.ndarray]:
    """3D ACGs on linear lag bins, before the log resampling.

    Parameters
    ----------
    sample_indices, unit_indices, segment_indices : np.ndarray, shape (num_spikes,)
        A spike vector (any order), as ``sorting.to_spike_vector()`` gives.
    num_units : int
    sampling_frequency : float
    segment_num_samples : sequence of int, shape (num_segments,)
        Length of each segment in samples (triggers need a full window before the segment's end).
    config : ACGConfig

    Returns
    -------
    density : np.ndarray, shape (num_units, num_rate_bins, num_linear_bins)
        Probability per ms of a spike at each lag bin, per trigger spike.
    num_triggers : np.ndarray, shape (num_units, num_rate_bins)
    """
    if sampling_frequency <= 0:
        raise ValueError("sampling_frequency must be positive")
    segment_num_samples = np.atleast_1d(np.asarray(segment_num_samples, dtype=np.float64))
    num_segments = segment_num_samples.size
    n_rate = config.num_rate_bins
    half_window = config.window_ms / 2
    n_lin = int(np.ceil(half_window / config.bin_ms - 1e-9))
    counts = np.zeros(num_units * n_rate * n_lin, dtype=np.float64)
    num_triggers = np.zeros((num_units, n_rate), dtype=np.float64)
    sample_indices = np.asarray(sample_indices)
    if sample_indices.size:
        unit_indices = np.asarray(unit_indices, dtype=np.int64)
        segment_indices = np.asarray(segment_indices, dtype=np.int64)
        if unit_indices.min() < 0 or unit_indices.max() >= num_units:
            raise ValueError("unit_indices out of range")
        order, group = _sort_by_group_and_time(sample_indices, unit_indices, segment_indices, num_segments)
        samples_sorted = sample_indices.astype(np.int64)[order]
        t = samples_sorted * (1000.0 / sampling_frequency)
        unit = group // num_segments
        seg = group % num_segments
        rates = smoothed_rates_hz(t, group, config.smoothing_ms)
        valid = np.isfinite(rates)
        # equal-count rate bins per unit (over all its segments): rank of the rate within the unit
        rate_bin = np.zeros(t.size, dtype=np.int64)
        vidx = np.flatnonzero(valid)
        if vidx.size:
            vu = unit[vidx]
            r = rates[vidx]
            # one stable sort of a composite key: unit index + rate mapped into [0, 0.5) (ties: time order)
            o = np.argsort(vu + r / (2.0 * r.max() + 1.0), kind="stable")
            per_unit = np.bincount(vu, minlength=num_units)
            first_of_unit = np.r_[0, np.cumsum(per_unit)[:-1]]
            rank = np.arange(vidx.size) - first_of_unit[vu[o]]
            rate_bin[vidx[o]] = (rank * n_rate) // per_unit[vu[o]]
        # pairs are enumerated on exact integer sample times, groups shifted apart on one int64 axis
        window_samples = int(np.floor(half_window * sampling_frequency / 1000.0 + 1e-9))
        trigger = valid & (samples_sorted + window_samples <= segment_num_samples[seg])
        trig_idx = np.flatnonzero(trigger)
        row = unit[trig_idx] * n_rate + rate_bin[trig_idx]
        num_triggers += np.bincount(row, minlength=num_triggers.size).reshape(num_triggers.shape)
        counts = _count_pairs(samples_sorted, group, trig_idx, row, window_samples, sampling_frequency,
                              config.bin_ms, n_lin, counts.size)
    counts = counts.reshape(num_units, n_rate, n_lin)
    with np.errstate(invalid="ignore", divide="ignore"):
        density = np.where(num_triggers[..., None] > 0, counts / num_triggers[..., None] / config.bin_ms, 0.0)
    return density, num_triggers


def resample_log_axis(density: np.ndarray, config: ACGConfig = ACGConfig(), start_ms: float = 0.0) -> np.ndarray:
    """Mean of a piecewise-constant lag density over each log bin (mass preserving).

    Parameters
    ----------
    density : np.ndarray, shape (..., num_linear_bins)
        Density per ms on linear bins of ``config.bin_ms`` starting at lag ``start_ms`` (zero below).
    config : ACGConfig
    start_ms : float, default: 0.0

    Returns
    -------
    np.ndarray, shape (..., num_log_bins)
        Probability per ``bin_ms`` bin, times ``config.scale``.
    """
    n_lin = density.shape[-1]
    cumulative = np.concatenate([np.zeros(density.shape[:-1] + (1,)), np.cumsum(density * config.bin_ms, axis=-1)], -1)
    edges = log_lag_edges_ms(config)
    rel = edges - start_ms
    k = np.clip(np.floor(rel / config.bin_ms).astype(np.int64), 0, n_lin - 1)
    frac = np.clip(rel - k * config.bin_ms, 0, config.bin_ms)
    mass_at_edges = cumulative[..., k] + frac * density[..., k]
    mean_density = np.diff(mass_at_edges, axis=-1) / np.diff(edges)
    return mean_density * config.bin_ms * config.scale


def acg_images_from_linear_acgs(acgs: np.ndarray, bin_ms: float, config: ACGConfig = ACGConfig()) -> np.ndarray:
    """Log-axis images from symmetric linear 3D ACGs such as SpikeInterface's ``acgs_3d`` extension gives.

    Parameters
    ----------
    acgs : np.ndarray, shape (num_units, num_rate_bins, num_bins)
        Spike probability per bin per trigger spike, lag 0 at the centre bin ``num_bins // 2``, bins of
        ``bin_ms`` centred on multiples of ``bin_ms``; the half window must cover ``config.window_ms / 2``.
    bin_ms : float
    config : ACGConfig

    Returns
    -------
    np.ndarray, shape (num_units, num_rate_bins, num_log_bins), float32
    """
    acgs = np.asarray(acgs, dtype=np.float64)
    centre = acgs.shape[-1] // 2
    positive = acgs[..., centre + 1 :]
    if positive.shape[-1] * bin_ms + bin_ms / 2 < config.window_ms / 2 - 1e-9:
        raise ValueError(f"the ACGs cover {positive.shape[-1] * bin_ms} ms of positive lags; need {config.window_ms / 2}")
    cfg = replace(config, bin_ms=bin_ms)
    return resample_log_axis(positive / bin_ms, cfg, start_ms=bin_ms / 2).astype(np.float32) * (config.bin_ms / bin_ms)


def compute_acg_images(
    sample_indices: np.ndarray,
    unit_indices: np.ndarray,
    segment_indices: np.ndarray,
    num_units: int,
    sampling_frequency: float,
    segment_num_samples,
    config: ACGConfig = ACGConfig(),
) -> np.ndarray:
    """3D ACG images on a log lag axis for all units at once.

    Parameters
    ----------
    sample_indices, unit_indices, segment_indices : np.ndarray, shape (num_spikes,)
        A spike vector, as ``sorting.to_spike_vector()`` gives.
    num_units : int
    sampling_frequency : float
    segment_num_samples : sequence of int, shape (num_segments,)
    config : ACGConfig

    Returns
    -------
    np.ndarray, shape (num_units, num_rate_bins, num_log_bins), float32
        Non-negative; rows of units (or rate bins) without trigger spikes are zero.
    """
    density, _ = linear_acg_density(
        sample_indices, unit_indices, segment_indices, num_units, sampling_frequency, segment_num_samples, config
    )
    return resample_log_axis(density, config).astype(np.float32)
