"""Self-consistency: spikes simulated from the decay model are localized back."""

import numpy as np

from si_amortized.localization import FeatureConfig, aggregate_locations, examples_from_recording, predict_examples


def test_decay_model_spikes_are_localized_back(toy, toy_peaks, toy_model):
    recording, _, sources, _ = toy
    examples = examples_from_recording(recording, toy_peaks, FeatureConfig())
    assert np.array_equal(np.unique(examples.spike_index), np.arange(toy_peaks.size))
    mean, var = predict_examples(toy_model, examples)
    loc, std = aggregate_locations(examples, mean, var, recording.get_channel_locations())
    err = np.hypot(loc[:, 0] - sources[:, 0], loc[:, 1] - sources[:, 1])
    assert np.mean(err) < 4.5, np.mean(err)
    assert np.median(err) < 3.0, np.median(err)
    # the centre channel alone (the naive estimate) is much worse
    peak_xy = recording.get_channel_locations()[toy_peaks["channel_index"]]
    naive = np.hypot(peak_xy[:, 0] - sources[:, 0], peak_xy[:, 1] - sources[:, 1])
    assert np.mean(err) < 0.7 * np.mean(naive)
    # depth is recovered roughly, posterior is much tighter than the 80 um prior
    assert np.median(np.abs(loc[:, 2] - sources[:, 2])) < 8.0
    assert np.all(std < 40.0)


def test_edge_and_off_array_sources_are_centred_and_localized(toy_model):
    from .toy import make_toy_recording

    # sources on the edges and just outside the 8 x 8 array (0..105 um): virtual channels keep them centred
    units = np.array([[20.0, 3.0, 12.0], [110.0, 50.0, 12.0], [-6.0, 60.0, 15.0], [52.0, 108.0, 12.0]])
    recording, sorting, sources, _ = make_toy_recording(unit_sources=units, spikes_per_unit=30, noise_uv=1.0, seed=3)
    from spikeinterface.core import create_sorting_analyzer

    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    loc = an.compute("vae_locations", model=toy_model).get_data()
    spikes = sorting.to_spike_vector()
    for u in range(len(units)):
        m = spikes["unit_index"] == u
        est = np.array([np.median(loc["x"][m]), np.median(loc["y"][m])])
        assert np.linalg.norm(est - units[u, :2]) < 10.0, (u, est, units[u])

