"""The memory section measures the sorting process alone, not the process that asks for it."""

import numpy as np

from si_amortized.evaluation.memory import peak_rss_mb
from si_amortized.evaluation.scale import measure_long_recording_memory


def test_peak_memory_excludes_the_callers_memory():
    ballast = np.ones(int(1.2e9 // 8))  # 1.2 GB held by this process while the measurement runs
    ballast[::4096] = 2.0  # touch every page
    result = measure_long_recording_memory("Neuropixels-64", duration=5.0)
    caller_peak = peak_rss_mb(since_exec=True)
    assert caller_peak > 1200
    assert 0 < result["peak_rss_mb"] < caller_peak - 600, (result["peak_rss_mb"], caller_peak)
    assert result["num_peaks"] > 0 and result["duration_s"] == 5.0
    del ballast
