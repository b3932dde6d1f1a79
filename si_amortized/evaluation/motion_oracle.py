"""Oracle localization for the motion benchmarks: each detected peak at its ground-truth cell's true position.

A motion estimate's error mixes what the localizer gets wrong with what the estimator does with the
locations it is given. Placing every detected peak where its cell truly was at that time (optionally with a
known Gaussian scatter) and running the same estimator on the same peaks separates the two: what remains is
the estimator's (and the ground truth's) share. ``benchmarks/motion_shared_peaks.py`` reports it beside the
localizers as the methods ``oracle`` and ``oracle+S`` (S um of scatter), ``benchmarks/motion.py`` on the peaks
``correct_motion`` detects (:func:`correct_motion_peaks`, :func:`estimate_motion_oracle`).
"""

from __future__ import annotations

import re
import time

import numpy as np

from ..localization.collisions import overlap_pairs

__all__ = ["ORACLE_PATTERN", "oracle_scatter_um", "true_spike_positions", "oracle_peak_locations",
           "correct_motion_peaks", "estimate_motion_oracle"]

#: Method names of the oracle: ``oracle`` (exact positions) or ``oracle+S`` (S um of Gaussian scatter per axis).
ORACLE_PATTERN = re.compile(r"^oracle(?:\+(\d+(?:\.\d*)?))?$")


def oracle_scatter_um(method: str) -> float | None:
    """The scatter (um) of an oracle method name (``"oracle"``: 0, ``"oracle+5"``: 5); None for other names."""
    match = ORACLE_PATTERN.match(method)
    if match is None:
        return None
    return float(match.group(1) or 0.0)


def true_spike_positions(sorting, info: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every ground-truth spike with its cell's true position at its time.

    Parameters
    ----------
    sorting : BaseSorting
        The ground-truth sorting, its units in the order of ``info``'s.
    info : dict
        ``unit_displacements`` (num_times, num_units, 2), ``unit_locations`` (num_units, >= 2) and
        ``displacement_sampling_frequency`` (Hz, rows from t = 0): ``generate_drifting_recording``'s extra
        outputs or :func:`si_amortized.datasets.mearec_drift.drifting_ground_truth`.

    Returns
    -------
    sample_index : np.ndarray, shape (num_spikes,)
    x, y : np.ndarray, shape (num_spikes,)
        Position (um, SpikeInterface's axes) of each spike's cell at the spike's time: its location plus its
        displacement, linearly interpolated in time.
    """
    displacements = np.asarray(info["unit_displacements"], dtype="float64")
    locations = np.asarray(info["unit_locations"], dtype="float64")
    if displacements.shape[1] != sorting.get_num_units() or locations.shape[0] != sorting.get_num_units():
        raise ValueError("the ground truth and the sorting have different numbers of units")
    spikes = sorting.to_spike_vector()
    if np.unique(spikes["segment_index"]).size > 1:
        raise ValueError("the oracle supports one-segment recordings")
    times = spikes["sample_index"] / sorting.sampling_frequency
    truth_times = np.arange(displacements.shape[0]) / float(info["displacement_sampling_frequency"])
    units = spikes["unit_index"]
    x, y = locations[units, 0].copy(), locations[units, 1].copy()
    for u in np.unique(units):
        mine = units == u
        x[mine] += np.interp(times[mine], truth_times, displacements[:, u, 0])
        y[mine] += np.interp(times[mine], truth_times, displacements[:, u, 1])
    return spikes["sample_index"].astype(np.int64), x, y


def oracle_peak_locations(peaks: np.ndarray, channel_locations: np.ndarray, sorting, info: dict,
                          max_lag_ms: float = 0.75, max_distance_um: float = 60.0, scatter_um: float = 0.0,
                          seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Each detected peak at the true position of the ground-truth spike it belongs to.

    A peak belongs to the ground-truth spike within ``max_lag_ms`` of it whose cell's true position is nearest
    to the peak's channel, if that is within ``max_distance_um``; peaks without one (noise) are not matched.

    Parameters
    ----------
    peaks : np.ndarray
        Detected peaks (``sample_index``, ``channel_index``), one segment.
    channel_locations : np.ndarray, shape (num_channels, >= 2)
    sorting, info
        See :func:`true_spike_positions`.
    max_lag_ms, max_distance_um : float, default: 0.75, 60.0
    scatter_um : float, default: 0.0
        Standard deviation of seeded Gaussian noise added to both coordinates (a localizer of known precision).
    seed : int, default: 0

    Returns
    -------
    locations : np.ndarray, shape (num_peaks,)
        Structured ``x``, ``y`` (um); NaN where not matched.
    matched : np.ndarray of bool, shape (num_peaks,)
    """
    if scatter_um < 0:
        raise ValueError(f"scatter_um must be >= 0, not {scatter_um}")
    spike_times, spike_x, spike_y = true_spike_positions(sorting, info)
    lag = int(round(max_lag_ms * sorting.sampling_frequency / 1000.0))
    peak, spike = overlap_pairs(peaks["sample_index"], spike_times, lag, lag)
    channels = np.asarray(channel_locations, dtype="float64")[peaks["channel_index"][peak]]
    distance = np.hypot(spike_x[spike] - channels[:, 0], spike_y[spike] - channels[:, 1])
    # per peak, the nearest cell: sort the pairs by (peak, distance) and keep each peak's first
    order = np.lexsort((distance, peak))
    first = order[np.r_[True, peak[order][1:] != peak[order][:-1]]] if order.size else order
    first = first[distance[first] <= max_distance_um]
    locations = np.full(peaks.size, np.nan, dtype=[("x", "float64"), ("y", "float64")])
    locations["x"][peak[first]] = spike_x[spike[first]]
    locations["y"][peak[first]] = spike_y[spike[first]]
    matched = np.zeros(peaks.size, dtype=bool)
    matched[peak[first]] = True
    if scatter_um > 0:
        noise = np.random.default_rng(seed).normal(0.0, scatter_um, (2, peaks.size))
        locations["x"] += noise[0]
        locations["y"] += noise[1]
    return locations, matched


def correct_motion_peaks(recording, job_kwargs: dict | None = None, preset: str | None = None,
                         estimate_motion_kwargs: dict | None = None) -> dict:
    """The peaks ``correct_motion`` detects and the estimator settings it uses (the same for every localizer).

    ``correct_motion`` runs once, with ``center_of_mass`` (the peaks do not depend on the localizer).

    Parameters
    ----------
    recording : BaseRecording
    job_kwargs : dict | None, default: None
        None: one job, 1 s chunks, no progress bar.
    preset : str | None, default: None
        None: the motion benchmark's (:data:`si_amortized.evaluation.motion.PRESET`).
    estimate_motion_kwargs : dict | None, default: None
        Estimator settings over the preset's.

    Returns
    -------
    dict
        ``peaks``, ``estimate_motion_kwargs`` (as ``correct_motion`` passed them to ``estimate_motion``) and
        ``seconds`` (the call's wall time).
    """
    from spikeinterface.preprocessing import correct_motion

    from .motion import PRESET

    job_kwargs = dict(n_jobs=1, chunk_duration="1s", progress_bar=False) if job_kwargs is None else job_kwargs
    t0 = time.perf_counter()
    _, _, motion_info = correct_motion(
        recording, preset=preset or PRESET, localize_peaks_kwargs=dict(method="center_of_mass"),
        estimate_motion_kwargs=dict(estimate_motion_kwargs or {}), output_motion=True, output_motion_info=True,
        **job_kwargs,
    )
    settings = dict(motion_info["parameters"]["estimate_motion_kwargs"])
    return dict(peaks=motion_info["peaks"], estimate_motion_kwargs=settings,
                seconds=time.perf_counter() - t0)


def estimate_motion_oracle(recording, sorting, info: dict, detected: dict, scatter_um: float = 0.0, seed: int = 0):
    """The motion ``correct_motion``'s estimator gives from its detected peaks placed at their true positions.

    Parameters
    ----------
    recording : BaseRecording
    sorting, info
        Ground truth (see :func:`true_spike_positions`).
    detected : dict
        :func:`correct_motion_peaks` of the recording (one call serves every oracle method).
    scatter_um : float, default: 0.0
    seed : int, default: 0
        Of the scatter.

    Returns
    -------
    motion : spikeinterface.core.motion.Motion
    run : dict
        As :func:`si_amortized.evaluation.motion.estimate_motion_with`'s: ``detect_localize_s`` the shared
        ``correct_motion`` call's time, ``wall_s`` that plus the matching and the estimation, ``num_peaks`` the
        matched peaks, ``localize_s`` NaN.
    """
    from spikeinterface.sortingcomponents.motion import estimate_motion

    t0 = time.perf_counter()
    peaks = detected["peaks"]
    locations, matched = oracle_peak_locations(peaks, recording.get_channel_locations(), sorting, info,
                                               scatter_um=scatter_um, seed=seed)
    t1 = time.perf_counter()
    motion = estimate_motion(recording, peaks[matched], locations[matched], **detected["estimate_motion_kwargs"])
    t2 = time.perf_counter()
    run = dict(wall_s=detected["seconds"] + t2 - t0, detect_localize_s=detected["seconds"], estimate_s=t2 - t1,
               num_peaks=int(matched.sum()), localize_s=np.nan)
    return motion, run
