"""Training spikes for a localizer built inside a detect-and-localize pipeline (``correct_motion`` and co.).

There the localization node's parent is a peak detector: no peaks exist yet when the node is built. As
SpikeInterface does for noise levels, the detector is run on a seeded random subset of chunks, and the
localizer is trained on the peaks found there. The cost is that of detection on
``num_chunks * chunk_duration_s`` seconds plus the training itself (bounded by ``max_spikes``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["random_chunks", "detect_training_peaks"]

peak_dtype = np.dtype([("sample_index", "int64"), ("channel_index", "int64"), ("segment_index", "int64")])


def random_chunks(recording, num_chunks: int, chunk_size: int, seed: int) -> list[tuple[int, int, int]]:
    """``num_chunks`` non-overlapping ``(segment_index, start_frame, end_frame)`` drawn over all segments.

    Segments shorter than a chunk give one chunk over their whole length. Sorted by segment and time.
    """
    slots = []
    for segment_index in range(recording.get_num_segments()):
        n = recording.get_num_samples(segment_index)
        starts = np.arange(0, max(n - chunk_size, 0) + 1, chunk_size)
        slots += [(segment_index, int(s), int(min(s + chunk_size, n))) for s in starts]
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(len(slots), size=min(num_chunks, len(slots)), replace=False))
    return [slots[i] for i in pick]


def _traces_with_margin(recording, segment_index: int, start: int, end: int, margin: int) -> np.ndarray:
    n = recording.get_num_samples(segment_index)
    lo, hi = max(start - margin, 0), min(end + margin, n)
    traces = recording.get_traces(segment_index=segment_index, start_frame=lo, end_frame=hi)
    return np.pad(traces, ((lo - (start - margin), (end + margin) - hi), (0, 0)))


def detect_training_peaks(
    recording, detector, num_chunks: int = 20, chunk_duration_s: float = 1.0, seed: int = 0
) -> np.ndarray:
    """Peaks that ``detector`` finds in a seeded random subset of chunks.

    Parameters
    ----------
    recording : BaseRecording
    detector : PeakDetector
        A SpikeInterface peak-detector pipeline node (e.g. ``locally_exclusive``), used as the pipeline uses it.
    num_chunks : int, default: 20
    chunk_duration_s : float, default: 1.0
    seed : int, default: 0

    Returns
    -------
    np.ndarray
        Structured ``sample_index``, ``channel_index``, ``segment_index`` (absolute frames), sorted.
    """
    chunk_size = max(int(round(chunk_duration_s * recording.sampling_frequency)), 1)
    margin = int(detector.get_margin())
    found = []
    for segment_index, start, end in random_chunks(recording, num_chunks, chunk_size, seed):
        traces = _traces_with_margin(recording, segment_index, start, end, margin)
        local = detector.compute(traces, start, end, segment_index, margin)[0]
        sample_index = local["sample_index"].astype(np.int64) + start - margin
        inside = (sample_index >= start) & (sample_index < end)
        peaks = np.zeros(int(inside.sum()), dtype=peak_dtype)
        peaks["sample_index"] = sample_index[inside]
        peaks["channel_index"] = local["channel_index"][inside]
        peaks["segment_index"] = segment_index
        found.append(peaks)
    if not found:
        return np.zeros(0, dtype=peak_dtype)
    return np.concatenate(found)
