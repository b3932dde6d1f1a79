"""The memory section measures the sorting process alone, not the process that asks for it."""

import numpy as np

from si_amortized.evaluation.scale import _peak_rss_mb, lazy_ground_truth_recording, measure_long_recording_memory


def test_lazy_recording_is_generated_on_the_fly():
    recording, sorting = lazy_ground_truth_recording("Neuropixels-64", duration=2.0, num_units=5, seed=1)
    assert recording.get_num_channels() == 64 and recording.get_total_duration() == 2.0
    traces = recording.get_traces(start_frame=0, end_frame=1000)
    again = recording.get_traces(start_frame=0, end_frame=1000)
    np.testing.assert_array_equal(traces, again)  # deterministic chunks, nothing cached
    assert sorting.get_num_units() == 5


def test_peak_memory_excludes_the_callers_memory():
    ballast = np.ones(int(1.2e9 // 8))  # 1.2 GB held by this process while the measurement runs
    ballast[::4096] = 2.0  # touch every page
    result = measure_long_recording_memory("Neuropixels-64", duration=5.0)
    assert _peak_rss_mb() > 1200
    assert 0 < result["peak_rss_mb"] < _peak_rss_mb() - 600, (result["peak_rss_mb"], _peak_rss_mb())
    assert result["num_peaks"] > 0 and result["duration_s"] == 5.0
    del ballast
