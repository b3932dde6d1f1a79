"""Templates summed in chunk order: the naive mean, bit for bit the same whatever n_jobs."""

import numpy as np
import pytest
from spikeinterface.core import NumpyRecording
from spikeinterface.core.base import minimum_spike_dtype

from si_amortized.sorters.templates import estimate_templates_in_chunk_order

FS = 10_000.0
NBEFORE, NAFTER = 7, 12


def _recording_and_spikes(seed=0):
    """Two segments of noise, 5 units, spikes everywhere including within a window of both segment edges."""
    rng = np.random.default_rng(seed)
    lengths = (23_457, 18_001)
    traces = [rng.normal(0.0, 1.0, (n, 9)).astype("float32") * 40 for n in lengths]
    recording = NumpyRecording(traces, sampling_frequency=FS)
    spikes = []
    for segment, n in enumerate(lengths):
        samples = np.r_[0, 3, rng.integers(0, n, 600), n - 5, n - 1]
        units = rng.integers(0, 4, samples.size)  # unit 4 has no spike
        vector = np.zeros(samples.size, dtype=minimum_spike_dtype)
        vector["sample_index"], vector["unit_index"], vector["segment_index"] = samples, units, segment
        spikes.append(vector[np.argsort(samples, kind="stable")])
    mask = rng.random((5, 9)) < 0.5
    mask[np.arange(5), np.arange(5)] = True
    return recording, np.concatenate(spikes), mask


def _naive(recording, spikes, mask):
    """Mean of zero-padded windows, unit by unit, spike by spike."""
    out = np.zeros((mask.shape[0], NBEFORE + NAFTER, mask.sum(axis=1).max()))
    for unit in range(mask.shape[0]):
        mine = spikes[spikes["unit_index"] == unit]
        if mine.size == 0:
            continue
        channels = np.flatnonzero(mask[unit])
        total = np.zeros((NBEFORE + NAFTER, channels.size))
        for spike in mine:
            traces = recording.get_traces(segment_index=int(spike["segment_index"])).astype("float64")
            padded = np.pad(traces, ((NBEFORE, NAFTER), (0, 0)))
            start = int(spike["sample_index"])  # + NBEFORE padding - NBEFORE window start
            total += padded[start : start + NBEFORE + NAFTER][:, channels]
        out[unit, :, : channels.size] = total / mine.size
    return out


def test_equals_the_naive_mean_including_segment_edges():
    recording, spikes, mask = _recording_and_spikes()
    found = estimate_templates_in_chunk_order(
        recording, spikes, 5, NBEFORE, NAFTER, mask, dict(n_jobs=1, chunk_duration="0.37s", progress_bar=False)
    )
    expected = _naive(recording, spikes, mask)
    assert found.dtype == np.float32 and found.shape == expected.shape
    np.testing.assert_allclose(found, expected, rtol=1e-6, atol=1e-5)
    assert not found[4].any()  # a unit without spikes stays zero


def test_bit_identical_for_every_n_jobs():
    recording, spikes, mask = _recording_and_spikes(seed=1)
    runs = [
        estimate_templates_in_chunk_order(
            recording, spikes, 5, NBEFORE, NAFTER, mask, dict(n_jobs=n_jobs, chunk_duration="0.21s", progress_bar=False)
        )
        for n_jobs in (1, 2, 2)
    ]
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[1], runs[2])


def test_bad_input_is_refused():
    recording, spikes, mask = _recording_and_spikes()
    job = dict(n_jobs=1, progress_bar=False)
    with pytest.raises(ValueError, match="sparsity_mask must have shape"):
        estimate_templates_in_chunk_order(recording, spikes, 5, NBEFORE, NAFTER, mask[:, :4], job)
    with pytest.raises(ValueError, match="sorted"):
        estimate_templates_in_chunk_order(recording, spikes[::-1], 5, NBEFORE, NAFTER, mask, job)
