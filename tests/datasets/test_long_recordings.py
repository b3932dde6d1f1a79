"""Lazy long ground-truth recordings: traces computed chunk by chunk, nothing held in memory."""

import numpy as np

from si_amortized.datasets import lazy_ground_truth_recording


def test_lazy_recording_is_generated_on_the_fly():
    recording, sorting = lazy_ground_truth_recording("Neuropixels-64", duration=2.0, num_units=5, seed=1)
    assert recording.get_num_channels() == 64 and recording.get_total_duration() == 2.0
    traces = recording.get_traces(start_frame=0, end_frame=1000)
    again = recording.get_traces(start_frame=0, end_frame=1000)
    np.testing.assert_array_equal(traces, again)  # deterministic chunks, nothing cached
    assert sorting.get_num_units() == 5
