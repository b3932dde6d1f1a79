"""Traces as the localizer reads them: float32 microvolts."""

import numpy as np
from spikeinterface.core import NumpyRecording

from si_amortized.localization.extraction import traces_in_uv


def _recording(traces, gains=None, offsets=None):
    rec = NumpyRecording([traces], sampling_frequency=30000.0)
    if gains is not None:
        rec.set_channel_gains(gains)
        rec.set_channel_offsets(offsets)
    return rec


def test_integer_traces_are_scaled_per_channel_with_gains_and_offsets():
    rng = np.random.default_rng(0)
    raw = rng.integers(-2000, 2000, (500, 6)).astype("int16")
    gains = rng.uniform(0.1, 3.0, 6)
    for offsets in (np.zeros(6), rng.uniform(-50, 50, 6)):
        got = traces_in_uv(_recording(raw, gains, offsets), raw)
        assert got.dtype == np.float32 and got.shape == raw.shape
        np.testing.assert_allclose(got, raw * gains[None, :] + offsets[None, :], rtol=1e-6, atol=1e-4)


def test_float_traces_pass_through_and_unscaled_integers_are_only_cast():
    traces = np.random.default_rng(1).normal(0, 10, (100, 4)).astype("float32")
    assert traces_in_uv(_recording(traces), traces) is traces  # no copy
    raw = np.arange(40, dtype="int16").reshape(10, 4)
    got = traces_in_uv(_recording(raw), raw)  # no gains: the values as they are
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, raw.astype("float32"))
