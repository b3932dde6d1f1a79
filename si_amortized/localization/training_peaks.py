"""Training spikes for a localizer built inside a detect-and-localize pipeline (``correct_motion`` and co.).

There the localization node's parent is a peak detector: no peaks exist yet when the node is built. As
SpikeInterface does for noise levels, the detector is run on a seeded random subset of chunks, and the
localizer is trained on the peaks found there, its examples cut from the traces the detector read. The cost
is that of reading and detection on ``num_chunks * chunk_duration_s`` seconds plus the training itself
(bounded by ``max_spikes``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .extraction import traces_in_uv
from .neighbourhood import SpikeExamples

__all__ = ["random_chunks", "detected_chunks", "detect_training_peaks", "DetectorTrainingSpikes"]

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


def detected_chunks(recording, detector, num_chunks: int = 20, chunk_duration_s: float = 1.0, seed: int = 0,
                    margin: int = 0):
    """The traces of seeded random chunks and the peaks ``detector`` finds in them, chunk by chunk.

    Parameters
    ----------
    recording : BaseRecording
    detector : PeakDetector
    num_chunks, chunk_duration_s, seed
        See :func:`detect_training_peaks`.
    margin : int, default: 0
        Samples read around each chunk beyond those the detector needs (at least the detector's margin is read).

    Yields
    ------
    traces : np.ndarray, shape (chunk + 2 * read_margin, num_channels)
        As the recording returns them, zero-padded at its borders.
    first_frame : int
        Recording frame of the first row of ``traces``.
    peaks : np.ndarray
        ``sample_index`` (recording frames), ``channel_index``, ``segment_index`` of the peaks inside the chunk.
    """
    chunk_size = max(int(round(chunk_duration_s * recording.sampling_frequency)), 1)
    detector_margin = int(detector.get_margin())
    read_margin = max(detector_margin, int(margin))
    extra = read_margin - detector_margin
    for segment_index, start, end in random_chunks(recording, num_chunks, chunk_size, seed):
        traces = _traces_with_margin(recording, segment_index, start, end, read_margin)
        local = detector.compute(traces[extra : traces.shape[0] - extra], start, end, segment_index, detector_margin)[0]
        sample_index = local["sample_index"].astype(np.int64) + start - detector_margin
        inside = (sample_index >= start) & (sample_index < end)
        peaks = np.zeros(int(inside.sum()), dtype=peak_dtype)
        peaks["sample_index"] = sample_index[inside]
        peaks["channel_index"] = local["channel_index"][inside]
        peaks["segment_index"] = segment_index
        yield traces, start - read_margin, peaks


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
    found = [peaks for _, _, peaks in detected_chunks(recording, detector, num_chunks, chunk_duration_s, seed)]
    if not found:
        return np.zeros(0, dtype=peak_dtype)
    return np.concatenate(found)


@dataclass(frozen=True)
class DetectorTrainingSpikes:
    """Training spikes still to be found: those ``detector`` finds in seeded random chunks of the recording.

    What a localization node under a peak detector (``correct_motion``) trains on. The examples are cut from
    the very traces the detector read (:meth:`examples`), so the chunks are read once.
    """

    detector: object
    num_chunks: int = 20
    chunk_duration_s: float = 1.0
    seed: int = 0

    def examples(self, recording, cut, margin: int) -> tuple[np.ndarray, SpikeExamples]:
        """The detected peaks and their examples.

        Parameters
        ----------
        recording : BaseRecording
        cut : callable
            ``cut(traces, sample_index, channel_index) -> SpikeExamples``, sample indices into ``traces``
            (:func:`~si_amortized.localization.neighbourhood.compute_examples` with the layout bound).
        margin : int
            Samples the cut needs on each side of a peak.

        Returns
        -------
        peaks : np.ndarray
            As :func:`detect_training_peaks` finds them.
        examples : SpikeExamples
            ``spike_index`` refers to ``peaks``.
        """
        found, parts = [], []
        for traces, first_frame, peaks in detected_chunks(recording, self.detector, self.num_chunks,
                                                          self.chunk_duration_s, self.seed, margin):
            traces = traces_in_uv(recording, traces)
            parts.append(cut(traces, peaks["sample_index"] - first_frame, peaks["channel_index"]))
            found.append(peaks)
        if not found:
            return np.zeros(0, dtype=peak_dtype), cut(np.zeros((1, recording.get_num_channels()), "float32"),
                                                      np.zeros(0, np.int64), np.zeros(0, np.int64))
        return np.concatenate(found), SpikeExamples.concatenate(parts)
