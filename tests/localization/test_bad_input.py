"""Bad input: 1D linear probes, positive-peak spikes, NaN traces, units with a single spike."""

import numpy as np
import pytest

import si_amortized  # noqa: F401
from spikeinterface.core import NumpyRecording, NumpySorting, create_sorting_analyzer

from .toy import FAST, make_toy_recording


def test_linear_probe_localizes_depth_and_distance(toy_model):
    line = np.column_stack([np.zeros(16), np.arange(16) * 20.0])
    rng = np.random.default_rng(0)
    units = np.column_stack([rng.uniform(-15, 15, 5), rng.uniform(40, 260, 5), rng.uniform(8, 20, 5)])
    recording, sorting, sources, _ = make_toy_recording(positions=line, unit_sources=units, spikes_per_unit=150, seed=1)
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    # a 2D model refuses the 1D layout clearly
    with pytest.raises(ValueError, match="layout"):
        an.compute("vae_locations", model=toy_model)
    loc = an.compute("vae_locations", **dict(FAST, epochs=20)).get_data()
    assert np.all(loc["x"] == 0.0)  # the lateral axis is not resolvable on one column: kept on the line
    assert np.median(np.abs(loc["y"] - sources[:, 1])) < 6.0
    # z carries the distance to the line
    dist = np.hypot(sources[:, 0], sources[:, 2])
    assert np.median(np.abs(loc["z"] - dist)) < 10.0


def test_positive_spikes_equal_flipped_negative_spikes(toy_model, toy):
    rec_neg, sorting, sources, units = toy
    traces = rec_neg.get_traces()
    rec_pos = NumpyRecording([-traces], sampling_frequency=rec_neg.sampling_frequency)
    rec_pos.set_probe(rec_neg.get_probe())
    neg = create_sorting_analyzer(sorting, rec_neg, sparse=False, format="memory")
    pos = create_sorting_analyzer(sorting, rec_pos, sparse=False, format="memory")
    a = neg.compute("vae_locations", model=toy_model).get_data()
    for sign in ("pos", "both"):
        b = pos.compute("vae_locations", model=toy_model, peak_sign=sign).get_data()
        np.testing.assert_allclose(b["x"], a["x"], atol=1e-3)
        np.testing.assert_allclose(b["y"], a["y"], atol=1e-3)
    # with the wrong polarity nothing crashes; spikes are flagged NaN or located somewhere finite
    c = pos.compute("vae_locations", model=toy_model, peak_sign="neg").get_data()
    assert c.size == a.size
    # the default reads the polarity from the units' waveforms: an inverted gain changes nothing
    ext = pos.compute("vae_locations", model=toy_model)
    assert ext.params["peak_sign"] == "auto" and ext.params["feature_config"]["peak_sign"] == "pos"
    np.testing.assert_allclose(ext.get_data()["x"], a["x"], atol=1e-3)
    assert neg.get_extension("vae_locations").params["feature_config"]["peak_sign"] == "neg"
    with pytest.raises(ValueError, match="peak_sign"):
        pos.compute("vae_locations", model=toy_model, peak_sign="negative")


def test_dead_main_channel_is_replaced_by_the_largest_finite_channel(toy_model, toy):
    rec, sorting, sources, _ = toy
    an = create_sorting_analyzer(sorting, rec, sparse=False, format="memory")
    reference = an.compute("vae_locations", model=toy_model).get_data()
    main = an.main_channel_indices
    dead = int(np.bincount(main).argmax())  # the main channel of the most units
    traces = rec.get_traces().copy()
    traces[:, dead] = np.nan
    bad = NumpyRecording([traces], sampling_frequency=rec.sampling_frequency)
    bad.set_probe(rec.get_probe())
    an_bad = create_sorting_analyzer(sorting, bad, sparse=False, format="memory", main_channel_indices=main)
    assert an_bad.main_channel_indices.tolist().count(dead) >= 1
    with pytest.warns(UserWarning, match="non-finite traces"):
        loc = an_bad.compute("vae_locations", model=toy_model).get_data()
    units = sorting.to_spike_vector()["unit_index"]
    affected = np.isin(units, np.flatnonzero(main == dead))
    assert np.isfinite(loc["x"][affected]).all()
    err = np.hypot(loc["x"] - sources[:, 0], loc["y"] - sources[:, 1])
    ref_err = np.hypot(reference["x"] - sources[:, 0], reference["y"] - sources[:, 1])
    # losing the largest channel costs accuracy on the units it was the main channel of, not tens of um
    assert np.median(err[affected]) < np.median(ref_err[affected]) + 12.0
    assert np.median(err[~affected]) < np.median(ref_err[~affected]) + 1.0


def test_nan_traces(toy_model, toy):
    rec, sorting, sources, _ = toy
    traces = rec.get_traces().copy()
    traces[:, 27] = np.nan  # one dead channel
    spikes = sorting.to_spike_vector()
    hole = spikes["sample_index"][10]
    traces[hole - 5 : hole + 5, :] = np.nan  # a NaN burst over all channels
    bad = NumpyRecording([traces], sampling_frequency=rec.sampling_frequency)
    bad.set_probe(rec.get_probe())
    an = create_sorting_analyzer(sorting, bad, sparse=False, format="memory")
    loc = an.compute("vae_locations", model=toy_model).get_data()
    # the spike inside the NaN burst is placed on its unit's centre channel (deepest trough among the
    # finite channels, never the dead one) and flagged, not NaN
    from si_amortized.localization.unit_channels import unit_channels

    main = unit_channels(an).centre_channels("neg")[spikes["unit_index"][10]]
    assert main != 27
    assert loc["fallback"][10] and loc["z"][10] == 0.0
    np.testing.assert_array_equal([loc["x"][10], loc["y"][10]], rec.get_channel_locations()[main])
    others = np.ones(spikes.size, bool)
    others[10] = False
    assert np.isfinite(loc["x"][others]).all() and not loc["fallback"][others].any()
    err = np.hypot(loc["x"][others] - sources[others, 0], loc["y"][others] - sources[others, 1])
    assert np.median(err) < 5.0


def test_unit_with_a_single_spike(toy_model, toy):
    rec, sorting, sources, _ = toy
    spikes = sorting.to_spike_vector()
    labels = spikes["unit_index"].copy()
    labels[5] = 99  # a unit with one spike
    single = NumpySorting.from_samples_and_labels([spikes["sample_index"]], [labels], rec.sampling_frequency)
    an = create_sorting_analyzer(single, rec, sparse=False, format="memory")
    ext = an.compute("vae_locations", model=toy_model)
    by_unit = ext.get_data(outputs="by_unit", concatenated=True)
    assert by_unit[99].size == 1 and np.isfinite(by_unit[99]["x"][0])
    merged = an.merge_units([[99, 0]])
    assert merged.get_extension("vae_locations").get_data().size == spikes.size
    # training with a single spike in total is refused clearly
    one = NumpySorting.from_samples_and_labels([spikes["sample_index"][:1]], [labels[:1]], rec.sampling_frequency)
    an1 = create_sorting_analyzer(one, rec, sparse=False, format="memory")
    with pytest.raises(ValueError, match="at least 2"):
        an1.compute("vae_locations", **FAST, amp_jitter_uv=0.0)
