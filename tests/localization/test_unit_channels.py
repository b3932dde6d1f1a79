"""Each unit's centre channel: the deepest trough, not a larger positive return current elsewhere."""

import numpy as np
from probeinterface import generate_multi_columns_probe
from spikeinterface.core import NumpyRecording, NumpySorting, create_sorting_analyzer

from si_amortized.localization.unit_channels import resolve_peak_sign, unit_channels


def _trough_and_bump_analyzer():
    fs, num_samples = 30_000.0, 60_000
    probe = generate_multi_columns_probe(num_columns=4, num_contact_per_column=4, xpitch=15, ypitch=15)
    probe.set_device_channel_indices(np.arange(16))
    rng = np.random.default_rng(0)
    traces = rng.normal(0, 1.0, (num_samples, 16)).astype("float32")
    times = np.arange(100, num_samples - 100, 300)
    t = np.arange(-30, 30)
    trough = -30.0 * np.exp(-((t / 6.0) ** 2))  # the soma's negative spike on channel 1
    bump = 45.0 * np.exp(-(((t - 8) / 10.0) ** 2))  # a larger positive return current on channel 14
    for s in times:
        traces[s - 30 : s + 30, 1] += trough
        traces[s - 30 : s + 30, 14] += bump
    recording = NumpyRecording([traces], fs)
    recording.set_probe(probe, in_place=True)
    sorting = NumpySorting.from_samples_and_labels([times], [np.zeros(times.size, int)], fs)
    return create_sorting_analyzer(sorting, recording, sparse=False, format="memory")


def test_centre_channel_is_the_trough_when_a_positive_bump_is_larger():
    analyzer = _trough_and_bump_analyzer()
    channels = unit_channels(analyzer)
    assert channels.trough_channel_indices[0] == 1 and channels.peak_channel_indices[0] == 14
    # the largest deflection of either sign is the bump: SpikeInterface's main channel, and "both"
    assert channels.centre_channels("both")[0] == channels.main_channel_indices[0] == 14
    assert resolve_peak_sign("auto", channels.positive) == "pos"  # this one unit peaks upwards
    assert channels.centre_channels("neg")[0] == 1 and channels.centre_channels("pos")[0] == 14


def test_the_templates_extension_gives_the_same_channels_as_reading_snippets():
    analyzer = _trough_and_bump_analyzer()
    read = unit_channels(analyzer)
    analyzer.compute(["random_spikes", "templates"])
    from_templates = unit_channels(analyzer)
    for field in ("main_channel_indices", "positive", "finite_channels", "trough_channel_indices",
                  "peak_channel_indices"):
        np.testing.assert_array_equal(getattr(from_templates, field), getattr(read, field))
