"""Well-level neural metrics in the style of the Axion Neural Metric Tool (and meaRtools / MEA-NAP).

From per-electrode spike times of one well: active electrodes, (weighted) mean firing rate, single-electrode
bursts from a max-interval detector (count, frequency, duration, spikes per burst, inter-burst-interval CoV,
burst percentage), network bursts (bursts of the pooled train that recruit enough electrodes), a synchrony
index (mean spike-time tiling coefficient over pairs of active electrodes) and a rhythmicity score
(autocorrelation peak of the binned rate). Undefined metrics (no bursts, too few electrodes) are NaN.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "BurstParams",
    "NeuralMetricsConfig",
    "max_interval_bursts",
    "spike_time_tiling",
    "neural_metrics",
    "binned_to_spike_times",
    "neural_metrics_table",
    "METRIC_NAMES",
]


@dataclass(frozen=True, kw_only=True)
class BurstParams:
    """Max-interval burst detector settings (seconds, or bins when spike times are in bins).

    Parameters
    ----------
    max_begin_isi : float, default: 0.17
        A burst starts at an inter-spike interval at most this long.
    max_end_isi : float, default: 0.3
        A burst continues while intervals are at most this long.
    min_ibi : float, default: 0.2
        Bursts closer than this are merged.
    min_duration : float, default: 0.01
    min_spikes : int, default: 5
    """

    max_begin_isi: float = 0.17
    max_end_isi: float = 0.3
    min_ibi: float = 0.2
    min_duration: float = 0.01
    min_spikes: int = 5


@dataclass(frozen=True, kw_only=True)
class NeuralMetricsConfig:
    """Neural metric settings.

    Parameters
    ----------
    min_rate_hz : float, default: 5 / 60
        Electrodes firing at least this rate are active (Axion: 5 spikes per minute).
    burst : BurstParams
        Single-electrode burst detection.
    network_burst : BurstParams
        Burst detection on the pooled train of all electrodes.
    network_min_electrodes_fraction : float, default: 0.35
        A pooled burst is a network burst when at least this fraction of the active electrodes (and at
        least two) fire in it.
    synchrony_window : float, default: 0.02
        STTC coincidence window ``dt``.
    rhythm_bin : float, default: 0.1
        Bin width for the rate autocorrelation.
    rhythm_lag_range : tuple of float, default: (0.5, 10.0)
        Lags over which the autocorrelation peak is taken.
    """

    min_rate_hz: float = 5.0 / 60.0
    burst: BurstParams = field(default_factory=BurstParams)
    network_burst: BurstParams = field(
        default_factory=lambda: BurstParams(max_begin_isi=0.05, max_end_isi=0.1, min_ibi=0.2, min_duration=0.01, min_spikes=10)
    )
    network_min_electrodes_fraction: float = 0.35
    synchrony_window: float = 0.02
    rhythm_bin: float = 0.1
    rhythm_lag_range: tuple[float, float] = (0.5, 10.0)

    @classmethod
    def for_bins(cls) -> "NeuralMetricsConfig":
        """Settings for spike times measured in bins (e.g. the synthetic generator's binary wells)."""
        return cls(
            min_rate_hz=0.0,
            burst=BurstParams(max_begin_isi=1.0, max_end_isi=2.0, min_ibi=2.0, min_duration=1.0, min_spikes=3),
            network_burst=BurstParams(max_begin_isi=0.5, max_end_isi=1.0, min_ibi=2.0, min_duration=1.0, min_spikes=4),
            network_min_electrodes_fraction=0.35,
            synchrony_window=0.5,
            rhythm_bin=1.0,
            rhythm_lag_range=(10.0, 25.0),
        )


METRIC_NAMES = (
    "n_spikes",
    "mean_firing_rate_hz",
    "active_electrodes",
    "weighted_mean_firing_rate_hz",
    "isi_cv",
    "burst_count",
    "burst_frequency_hz",
    "burst_duration_s",
    "spikes_per_burst",
    "ibi_cov",
    "burst_percentage",
    "network_burst_count",
    "network_burst_frequency_hz",
    "network_burst_duration_s",
    "spikes_per_network_burst",
    "network_ibi_cov",
    "network_burst_percentage",
    "synchrony_index",
    "rhythmicity",
)


def max_interval_bursts(times: np.ndarray, params: BurstParams) -> np.ndarray:
    """Max-interval burst detection on sorted spike times.

    Parameters
    ----------
    times : np.ndarray, shape (num_spikes,)
        Sorted spike times.
    params : BurstParams

    Returns
    -------
    np.ndarray, shape (num_bursts, 2), int
        Index of the first and of the last spike of each burst (inclusive).
    """
    t = np.asarray(times, dtype=float)
    n = t.size
    if n < 2:
        return np.zeros((0, 2), dtype=np.int64)
    if np.any(np.diff(t) < 0):
        raise ValueError("spike times must be sorted")
    isi = np.diff(t)
    bursts: list[list[int]] = []
    i = 0
    while i < n - 1:
        if isi[i] <= params.max_begin_isi:
            end = i + 1
            while end < n - 1 and isi[end] <= params.max_end_isi:
                end += 1
            bursts.append([i, end])
            i = end + 1
        else:
            i += 1
    merged: list[list[int]] = []
    for b in bursts:
        if merged and t[b[0]] - t[merged[-1][1]] < params.min_ibi:
            merged[-1][1] = b[1]
        else:
            merged.append(list(b))
    kept = [
        b for b in merged if (b[1] - b[0] + 1) >= params.min_spikes and (t[b[1]] - t[b[0]]) >= params.min_duration
    ]
    return np.asarray(kept, dtype=np.int64).reshape(-1, 2)


def _covered_time(t: np.ndarray, dt: float, duration: float) -> float:
    if t.size == 0:
        return 0.0
    starts = np.clip(t - dt, 0.0, duration)
    ends = np.clip(t + dt, 0.0, duration)
    prev_end = np.concatenate([[-np.inf], np.maximum.accumulate(ends)[:-1]])
    return float(np.sum(np.maximum(0.0, ends - np.maximum(starts, prev_end))))


def _fraction_within(a: np.ndarray, b: np.ndarray, dt: float) -> float:
    if a.size == 0:
        return float("nan")
    if b.size == 0:
        return 0.0
    idx = np.searchsorted(b, a)
    left = np.abs(a - b[np.clip(idx - 1, 0, b.size - 1)])
    right = np.abs(b[np.clip(idx, 0, b.size - 1)] - a)
    return float(np.mean(np.minimum(left, right) <= dt))


def spike_time_tiling(a: np.ndarray, b: np.ndarray, dt: float, duration: float) -> float:
    """Spike time tiling coefficient (Cutts & Eglen 2014) of two sorted trains; NaN if either is empty."""
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.size == 0 or b.size == 0 or duration <= 0:
        return float("nan")
    ta = _covered_time(a, dt, duration) / duration
    tb = _covered_time(b, dt, duration) / duration
    pa = _fraction_within(a, b, dt)
    pb = _fraction_within(b, a, dt)
    t1 = 1.0 if pa * tb == 1 else (pa - tb) / (1.0 - pa * tb)
    t2 = 1.0 if pb * ta == 1 else (pb - ta) / (1.0 - pb * ta)
    return 0.5 * (t1 + t2)


def _cov(x: np.ndarray) -> float:
    return float(np.std(x) / np.mean(x)) if x.size >= 2 and np.mean(x) > 0 else float("nan")


def _nanmean(values) -> float:
    v = np.asarray([x for x in values if x is not None and np.isfinite(x)], dtype=float)
    return float(v.mean()) if v.size else float("nan")


def neural_metrics(spike_times, duration: float, config: NeuralMetricsConfig | None = None) -> dict:
    """Neural metrics of one well.

    Parameters
    ----------
    spike_times : sequence of np.ndarray
        One array of spike times per electrode (seconds, or bins with :meth:`NeuralMetricsConfig.for_bins`).
    duration : float
        Length of the recording in the same unit.
    config : NeuralMetricsConfig | None

    Returns
    -------
    dict
        One value per name in :data:`METRIC_NAMES` (NaN where undefined, e.g. burst duration without bursts).
    """
    cfg = config if config is not None else NeuralMetricsConfig()
    if duration <= 0:
        raise ValueError("duration must be positive")
    trains = [np.sort(np.asarray(t, dtype=float).ravel()) for t in spike_times]
    n_el = len(trains)
    if n_el == 0:
        raise ValueError("a well needs at least one electrode")
    counts = np.array([t.size for t in trains])
    rates = counts / duration
    active = rates >= cfg.min_rate_hz if cfg.min_rate_hz > 0 else counts > 0
    out = dict.fromkeys(METRIC_NAMES, float("nan"))
    out["n_spikes"] = float(counts.sum())
    out["mean_firing_rate_hz"] = float(rates.mean())
    out["active_electrodes"] = float(active.sum())
    out["weighted_mean_firing_rate_hz"] = float(rates[active].mean()) if active.any() else 0.0
    out["isi_cv"] = _nanmean([_cov(np.diff(t)) for t in trains if t.size >= 3])

    # single-electrode bursts
    n_bursts, durations, sizes, ibi_covs, freq, in_burst = [], [], [], [], [], 0
    for e, t in enumerate(trains):
        b = max_interval_bursts(t, cfg.burst)
        n_bursts.append(len(b))
        if active[e]:
            freq.append(len(b) / duration)
        if len(b):
            durations += (t[b[:, 1]] - t[b[:, 0]]).tolist()
            sz = b[:, 1] - b[:, 0] + 1
            sizes += sz.tolist()
            in_burst += int(sz.sum())
        if len(b) >= 3:
            ibi_covs.append(_cov(t[b[1:, 0]] - t[b[:-1, 1]]))
    out["burst_count"] = float(sum(n_bursts))
    out["burst_frequency_hz"] = float(np.mean(freq)) if freq else 0.0
    out["burst_duration_s"] = _nanmean(durations)
    out["spikes_per_burst"] = _nanmean(sizes)
    out["ibi_cov"] = _nanmean(ibi_covs)
    out["burst_percentage"] = 100.0 * in_burst / counts.sum() if counts.sum() else float("nan")

    # network bursts on the pooled train
    pooled = np.concatenate(trains) if counts.sum() else np.zeros(0)
    owner = np.concatenate([np.full(t.size, e) for e, t in enumerate(trains)]) if counts.sum() else np.zeros(0, int)
    order = np.argsort(pooled, kind="stable")
    pooled, owner = pooled[order], owner[order]
    need = max(2, math.ceil(cfg.network_min_electrodes_fraction * max(int(active.sum()), 1)))
    nb = [
        b for b in max_interval_bursts(pooled, cfg.network_burst) if np.unique(owner[b[0] : b[1] + 1]).size >= need
    ]
    nb = np.asarray(nb, dtype=np.int64).reshape(-1, 2)
    out["network_burst_count"] = float(len(nb))
    out["network_burst_frequency_hz"] = len(nb) / duration
    if len(nb):
        out["network_burst_duration_s"] = float(np.mean(pooled[nb[:, 1]] - pooled[nb[:, 0]]))
        out["spikes_per_network_burst"] = float(np.mean(nb[:, 1] - nb[:, 0] + 1))
        out["network_burst_percentage"] = 100.0 * float(np.sum(nb[:, 1] - nb[:, 0] + 1)) / pooled.size
    if len(nb) >= 3:
        out["network_ibi_cov"] = _cov(pooled[nb[1:, 0]] - pooled[nb[:-1, 1]])

    # synchrony: mean STTC over pairs of active electrodes
    act = np.flatnonzero(active & (counts > 0))
    sttc = [
        spike_time_tiling(trains[i], trains[j], cfg.synchrony_window, duration)
        for k, i in enumerate(act)
        for j in act[k + 1 :]
    ]
    out["synchrony_index"] = _nanmean(sttc)

    # rhythmicity: autocorrelation peak of the binned rate, averaged over electrodes
    nbins = int(duration // cfg.rhythm_bin)
    lo, hi = (int(round(v / cfg.rhythm_bin)) for v in cfg.rhythm_lag_range)
    if nbins >= 4 and hi > lo >= 1:
        peaks = []
        for t in trains:
            if t.size < 3:
                continue
            r = np.bincount(np.minimum((t // cfg.rhythm_bin).astype(int), nbins - 1), minlength=nbins).astype(float)
            r -= r.mean()
            denom = float(np.dot(r, r))
            if denom <= 0:
                continue
            ac = np.fft.irfft(np.abs(np.fft.rfft(r, n=2 * nbins)) ** 2)[: nbins] / denom
            seg = ac[lo : min(hi, nbins - 1) + 1]
            if seg.size:
                peaks.append(float(seg.max()))
        out["rhythmicity"] = _nanmean(peaks)
    return out


def binned_to_spike_times(counts: np.ndarray, bin_width: float = 1.0) -> list[np.ndarray]:
    """Spike times from binned counts ``(num_electrodes, num_bins)``: ``k`` spikes of a bin spread evenly in it."""
    counts = np.asarray(counts)
    if counts.ndim != 2:
        raise ValueError(f"counts must have shape (num_electrodes, num_bins), got {counts.shape}")
    if np.any(counts < 0):
        raise ValueError("counts must be non-negative")
    c = np.rint(counts).astype(np.int64)
    trains = []
    for row in c:
        idx = np.repeat(np.arange(row.size), row)
        within = np.concatenate([(np.arange(k) + 0.5) / k for k in row if k > 0]) if row.sum() else np.zeros(0)
        trains.append((idx + within) * bin_width)
    return trains


def neural_metrics_table(
    wells, bin_width: float = 1.0, config: NeuralMetricsConfig | None = None, index=None, fill_value: float | None = None
) -> pd.DataFrame:
    """Neural metrics of many binned wells.

    Parameters
    ----------
    wells : np.ndarray, shape (num_wells, num_electrodes, num_bins) | dict of (num_electrodes, num_bins)
    bin_width : float, default: 1.0
        Bin width in seconds (1.0 with :meth:`NeuralMetricsConfig.for_bins` keeps bin units).
    config : NeuralMetricsConfig | None
    index : sequence | None
        Row labels (the dict keys when ``wells`` is a dict).
    fill_value : float | None
        Replace undefined (NaN) metrics with this value (e.g. 0 for a classifier).

    Returns
    -------
    pandas.DataFrame, shape (num_wells, len(METRIC_NAMES))
    """
    if isinstance(wells, dict):
        index = list(wells.keys()) if index is None else index
        wells = list(wells.values())
    rows = []
    for w in wells:
        w = np.asarray(w)
        rows.append(neural_metrics(binned_to_spike_times(w, bin_width), w.shape[-1] * bin_width, config))
    df = pd.DataFrame(rows, index=index, columns=list(METRIC_NAMES))
    if fill_value is not None:
        df = df.fillna(fill_value)
    return df
