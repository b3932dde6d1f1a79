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


def test_channels_equal_a_naive_per_unit_loop_with_dead_channels(monkeypatch):
    """The reductions over time (one min, one max) pick what a loop over units and finite channels picks."""
    import types
    import warnings

    from si_amortized.localization import unit_channels as module

    rng = np.random.default_rng(3)
    num_units, num_samples, num_channels = 7, 40, 12
    templates = rng.normal(0, 5, (num_units, num_samples, num_channels)).astype("float32")
    non_finite = np.zeros(num_channels)
    non_finite[[2, 9]] = 1.0  # dead
    templates[:, :, 2] = np.nan
    templates[:, :, 9] = 80.0  # dead but large: must never be picked
    main = np.array([2, 0, 9, 5, 2, 11, 3])  # three units on dead channels
    fake = types.SimpleNamespace(main_channel_indices=main, unit_ids=np.arange(num_units),
                                 channel_ids=np.arange(num_channels))
    monkeypatch.setattr(module, "_average_waveforms", lambda *a: (templates.copy(), non_finite))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        got = module.unit_channels(fake)
    finite = non_finite <= 0.5
    for u in range(num_units):
        w = np.nan_to_num(templates[u]) * finite  # (samples, channels), dead channels 0
        want_main = main[u] if finite[main[u]] else int(np.argmax(np.abs(w).max(axis=0)))
        trace = w[:, want_main]
        assert got.main_channel_indices[u] == want_main
        assert got.positive[u] == (trace[np.argmax(np.abs(trace))] > 0)
        assert got.trough_channel_indices[u] == int(np.argmin(w.min(axis=0)))
        assert got.peak_channel_indices[u] == int(np.argmax(w.max(axis=0)))
    np.testing.assert_array_equal(got.finite_channels, finite)
    np.testing.assert_array_equal(np.sort(got.repicked_units), [0, 2, 4])
