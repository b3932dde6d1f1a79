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


def test_recording_layout_is_built_once_per_geometry_and_matches_a_fresh_build():
    import pytest
    from probeinterface import generate_multi_columns_probe

    from si_amortized.localization.config import FeatureConfig
    from si_amortized.localization.extraction import recording_layout
    from si_amortized.localization.neighbourhood import channel_neighbours_mask, neighbourhood_from_config

    probe = generate_multi_columns_probe(num_columns=4, num_contact_per_column=6, xpitch=15, ypitch=15)
    probe.set_device_channel_indices(np.arange(24))
    traces = np.zeros((100, 24), dtype="float32")
    first, second = _recording(traces), _recording(traces)
    for recording in (first, second):
        recording.set_probe(probe)  # in place
    config = FeatureConfig(half_width_um=20.0)
    neighbourhood, candidates = recording_layout(first, config)
    again = recording_layout(second, config)  # another recording, the same geometry: the same objects
    assert again[0] is neighbourhood and again[1] is candidates
    fresh = neighbourhood_from_config(first.get_channel_locations(), config)
    np.testing.assert_array_equal(neighbourhood.channel_table, fresh.channel_table)
    np.testing.assert_array_equal(neighbourhood.offsets, fresh.offsets)
    np.testing.assert_array_equal(candidates, channel_neighbours_mask(first.get_channel_locations(), config.peak_radius_um))
    with pytest.raises(ValueError):  # shared between callers, so nobody may change it
        neighbourhood.channel_table[0, 0] = -1
    # another config or shank labelling is another layout: two shanks never share a neighbourhood
    assert recording_layout(first, FeatureConfig(half_width_um=40.0))[0] is not neighbourhood
    second.set_property("group", np.repeat([0, 1], 12))
    split_neighbourhood, split_candidates = recording_layout(second, config)
    groups = np.repeat([0, 1], 12)
    table = split_neighbourhood.channel_table
    assert all((groups[table[c][table[c] >= 0]] == groups[c]).all() for c in range(24))
    assert not split_candidates[np.ix_(groups == 0, groups == 1)].any() and candidates[np.ix_(groups == 0, groups == 1)].any()
