"""Peak detection of the location sorter: locally exclusive thresholding or matched filtering.

``"locally_exclusive"`` thresholds each channel at ``detect_threshold`` noise MADs and keeps the largest
peak within ``radius_um`` and ``exclude_sweep_ms``. ``"matched_filtering"`` (what SpikeInterface's
``lupin`` detects with) first correlates the traces with a prototype spike waveform and sums them over
channels with spatial kernels at several depths, then thresholds that output against its own noise: a
spike spread over several channels, each below threshold, still crosses it, so cells of low SNR are reached.

The prototype is the median, amplitude-normalised peak-channel waveform of locally exclusive peaks found
in a seeded random subset of chunks: the same for a seed whatever ``n_jobs`` is.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from spikeinterface.sortingcomponents.peak_detection.matched_filtering import MatchedFilteringPeakDetector

__all__ = ["DETECTION_METHODS", "MatchedFilteringConfig", "check_detection_settings", "detect_sorter_peaks",
           "prototype_waveform"]

DETECTION_METHODS = ("locally_exclusive", "matched_filtering")


@dataclass(frozen=True, kw_only=True)
class MatchedFilteringConfig:
    """Settings of matched-filtering detection (``detection_kwargs`` of the sorter).

    Parameters
    ----------
    ms_before, ms_after : float, default: 1.0, 2.5
        Prototype window around the peak (ms).
    n_peaks : int, default: 5000
        Peaks whose waveforms give the prototype (median of the amplitude-normalised waveforms).
    prototype_duration_s : float, default: 30.0
        Seconds of recording, in random chunks, searched for those peaks.
    num_noise_chunks : int, default: 5
        Random chunks per segment on which the filtered output's noise level is measured.
    """

    ms_before: float = 1.0
    ms_after: float = 2.5
    n_peaks: int = 5000
    prototype_duration_s: float = 30.0
    num_noise_chunks: int = 5

    def __post_init__(self):
        if self.ms_before <= 0 or self.ms_after <= 0:
            raise ValueError("matched filtering ms_before and ms_after must be positive")
        if self.n_peaks < 1 or self.prototype_duration_s <= 0 or self.num_noise_chunks < 1:
            raise ValueError("matched filtering n_peaks, prototype_duration_s and num_noise_chunks must be positive")


def _random_slices(recording, duration_s: float, seed: int | None) -> list:
    """Seeded random one-second chunks ``(segment_index, start, stop)`` covering about ``duration_s`` seconds.

    The chunks are one second long whatever the job's ``chunk_duration``, so the choice depends on the seed only.
    """
    from spikeinterface.core.job_tools import divide_segment_into_chunks

    chunk_size = int(recording.sampling_frequency)
    slices = []
    for segment_index in range(recording.get_num_segments()):
        chunks = divide_segment_into_chunks(recording.get_num_samples(segment_index), chunk_size)
        slices.extend((segment_index, start, stop) for start, stop in chunks)
    order = np.random.default_rng(seed).permutation(len(slices))
    wanted = duration_s * recording.sampling_frequency
    chosen, total = [], 0
    for index in order:
        chosen.append(slices[index])
        total += slices[index][2] - slices[index][1]
        if total >= wanted:
            break
    return sorted(chosen)


def check_detection_settings(method: str, detection_kwargs: dict | None) -> MatchedFilteringConfig | None:
    """Validate a detection method and its ``detection_kwargs``.

    Returns
    -------
    MatchedFilteringConfig | None
        The matched-filtering settings, or None for ``"locally_exclusive"``.
    """
    if method not in DETECTION_METHODS:
        raise ValueError(f"detection_method must be one of {DETECTION_METHODS}, not {method!r}")
    if method == "matched_filtering":
        return MatchedFilteringConfig(**(detection_kwargs or {}))
    if detection_kwargs:
        raise ValueError(f"detection_kwargs {sorted(detection_kwargs)} only apply to matched_filtering")
    return None


class ChunkExactMatchedFilteringPeakDetector(MatchedFilteringPeakDetector):
    """SpikeInterface's matched-filtering detector, made exact at chunk edges.

    SpikeInterface 0.105's ``MatchedFilteringPeakDetector`` keeps, in each chunk, only the peaks whose trough
    lies between ``nbefore`` samples after the chunk's start and ``len(prototype) - 1 - nbefore`` samples
    before its end: spikes there are lost, and which ones depends on the chunking. This subclass reads one
    prototype length more on each side and keeps the peaks of the chunk proper, so every trough is looked at
    once and the peaks do not depend on ``chunk_duration`` or ``n_jobs``. Parameters are the parent's.
    """

    def __init__(self, recording, prototype, ms_before, **kwargs):
        super().__init__(recording, prototype, ms_before, **kwargs)
        self._extra_margin = int(np.asarray(prototype).size)

    def get_margin(self):
        return super().get_margin() + self._extra_margin

    def compute(self, traces, start_frame, end_frame, segment_index, max_margin):
        (peaks,) = super().compute(traces, start_frame, end_frame, segment_index, max_margin)
        margin = self.get_margin()
        core = (peaks["sample_index"] >= margin) & (peaks["sample_index"] < traces.shape[0] - margin)
        return (peaks[core],)


def prototype_waveform(recording, noise_levels, *, peak_sign="neg", detect_threshold=5.0, exclude_sweep_ms=0.5,
                       radius_um=50.0, config: MatchedFilteringConfig = MatchedFilteringConfig(), seed=0,
                       job_kwargs=None) -> np.ndarray:
    """Median amplitude-normalised peak-channel waveform of peaks detected in random chunks.

    Parameters
    ----------
    recording : BaseRecording
    noise_levels : np.ndarray, shape (num_channels,)
    peak_sign, detect_threshold, exclude_sweep_ms, radius_um
        Locally exclusive detection of the peaks that make the prototype.
    config : MatchedFilteringConfig
    seed : int | None
    job_kwargs : dict | None

    Returns
    -------
    np.ndarray, shape (num_samples,)
        Peak sample at ``round(config.ms_before * fs / 1000)``, where the value is -1 for negative peaks
        (+1 for positive ones).
    """
    from spikeinterface.core.node_pipeline import run_node_pipeline
    from spikeinterface.sortingcomponents.peak_detection.locally_exclusive import LocallyExclusivePeakDetector

    from .features import peak_channel_waveforms, random_peak_subset

    job_kwargs = dict(job_kwargs or {})
    detector = LocallyExclusivePeakDetector(
        recording, peak_sign=peak_sign, detect_threshold=detect_threshold, exclude_sweep_ms=exclude_sweep_ms,
        radius_um=radius_um, noise_levels=noise_levels,
    )
    slices = _random_slices(recording, config.prototype_duration_s, seed)
    peaks = run_node_pipeline(recording, [detector], job_kwargs, job_name="prototype peaks", slices=slices)
    if peaks.size == 0:
        raise ValueError("matched filtering: no peak crossed the threshold in the chunks searched for a prototype")
    peaks = random_peak_subset(np.sort(peaks, order=["segment_index", "sample_index"]), config.n_peaks, seed)
    waveforms = peak_channel_waveforms(recording, peaks, ms_before=config.ms_before, ms_after=config.ms_after,
                                       job_kwargs=job_kwargs)
    nbefore = int(round(config.ms_before * recording.sampling_frequency / 1000.0))
    scale = np.abs(waveforms[:, nbefore : nbefore + 1])
    return np.median(waveforms / np.maximum(scale, 1e-12), axis=0).astype("float32")


def detect_sorter_peaks(recording, noise_levels, *, method="locally_exclusive", peak_sign="neg", detect_threshold=5.0,
                        exclude_sweep_ms=0.5, radius_um=50.0, detection_kwargs=None, seed=0, job_kwargs=None):
    """Peaks of the location sorter.

    Parameters
    ----------
    recording : BaseRecording
        Filtered.
    noise_levels : np.ndarray, shape (num_channels,)
        In the recording's units.
    method : "locally_exclusive" | "matched_filtering", default: "locally_exclusive"
    peak_sign, detect_threshold, exclude_sweep_ms, radius_um
        Detection settings; with matched filtering the threshold is in noise MADs of the filtered output.
    detection_kwargs : dict | None
        Fields of :class:`MatchedFilteringConfig` (matched filtering only).
    seed : int | None
    job_kwargs : dict | None

    Returns
    -------
    np.ndarray, shape (num_peaks,)
        SpikeInterface peaks (``sample_index``, ``channel_index``, ``amplitude``, ``segment_index``), sorted
        by segment and sample.
    """
    from spikeinterface.core.node_pipeline import base_peak_dtype, run_node_pipeline
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    job_kwargs = dict(job_kwargs or {})
    config = check_detection_settings(method, detection_kwargs)
    common = dict(peak_sign=peak_sign, detect_threshold=detect_threshold, exclude_sweep_ms=exclude_sweep_ms,
                  radius_um=radius_um)
    if config is None:
        return detect_peaks(recording, method="locally_exclusive", method_kwargs=dict(common, noise_levels=noise_levels),
                            job_kwargs=job_kwargs)
    prototype = prototype_waveform(recording, noise_levels, **common, config=config, seed=seed, job_kwargs=job_kwargs)
    detector = ChunkExactMatchedFilteringPeakDetector(
        recording, prototype, config.ms_before, **common,
        random_chunk_kwargs=dict(num_chunks_per_segment=config.num_noise_chunks, seed=seed),
    )
    found = run_node_pipeline(recording, [detector], job_kwargs, job_name="detect peaks (matched filtering)")
    peaks = np.zeros(found.size, dtype=base_peak_dtype)
    for name in peaks.dtype.names:
        peaks[name] = found[name]
    return np.sort(peaks, order=["segment_index", "sample_index"])
