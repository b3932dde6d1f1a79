"""Cluster splitting: coincidence counts against a naive count and Poisson theory, and the refractory test deciding."""

from __future__ import annotations

import numpy as np
import pytest

from si_amortized.sorters.splitting import (
    SplitConfig,
    clip_robust,
    cross_coincidences,
    expected_coincidences,
    split_clusters,
    split_labels,
)

FS = 30_000.0


def _refractory_train(rate_hz: float, duration_s: float, refractory_s: float, rng) -> np.ndarray:
    """Sorted spike samples of a Poisson train with a dead time."""
    isi = rng.exponential(1.0 / rate_hz, size=int(rate_hz * duration_s * 2) + 10) + refractory_s
    times = np.cumsum(isi)
    return np.round(times[times < duration_s - 0.01] * FS).astype(np.int64)


def test_cross_coincidences_match_a_naive_count():
    rng = np.random.default_rng(0)
    a = np.sort(rng.integers(0, 20_000, 300))
    b = np.sort(rng.integers(0, 20_000, 400))
    lag = np.abs(a[:, None] - b[None, :])
    for dead, window in ((0, 60), (15, 60), (1, 1)):
        naive = int(((lag >= dead) & (lag <= window)).sum())
        assert cross_coincidences(a, b, dead, window) == naive


def test_expected_coincidences_of_independent_trains():
    rng = np.random.default_rng(1)
    dead, window, total = 15, 60, int(60 * FS)
    ratios = []
    for _ in range(20):
        a = np.sort(rng.integers(0, total, 600))
        b = np.sort(rng.integers(0, total, 900))
        ratios.append(cross_coincidences(a, b, dead, window) / expected_coincidences(600, 900, dead, window, total))
    # each count is Poisson with mean ~16: the mean ratio over 20 draws is within ~0.06 (1 sd) of 1
    assert abs(np.mean(ratios) - 1.0) < 0.2


def _two_blob_features(labels_true, rng):
    """Features where the two true groups are separated by 8 sd along one axis."""
    features = rng.normal(size=(labels_true.size, 10))
    features[:, 0] += 8.0 * labels_true
    return features


def test_two_independent_cells_are_split_and_two_halves_of_one_cell_are_not():
    rng = np.random.default_rng(2)
    duration = 60.0
    config = SplitConfig()
    # two independent cells in one cluster
    a, b = _refractory_train(10, duration, 0.003, rng), _refractory_train(12, duration, 0.003, rng)
    times = np.concatenate([a, b])
    truth = np.concatenate([np.zeros(a.size, int), np.ones(b.size, int)])
    order = np.argsort(times, kind="stable")
    times, truth = times[order], truth[order]
    labels, decisions = split_labels(_two_blob_features(truth, rng), times, np.zeros(times.size, int), config, FS,
                                     int(duration * FS))
    assert decisions[0]["split"] and decisions[0]["expected"] > 10
    assert np.unique(labels).size == 2
    agreement = max(np.mean(labels == truth), np.mean(labels != truth))
    assert agreement > 0.99
    # one cell whose spikes alternate between two waveforms: as separable, but never within its refractory period
    one = _refractory_train(22, duration, 0.003, rng)
    alternate = np.arange(one.size) % 2
    labels, decisions = split_labels(_two_blob_features(alternate, rng), one, np.zeros(one.size, int), config, FS,
                                     int(duration * FS))
    assert decisions[0]["observed"] == 0 and decisions[0]["expected"] > 10
    assert not decisions[0]["split"]
    assert np.all(labels == 0)


def test_halves_that_fire_together_are_not_two_cells():
    # every event detected twice, 1 ms apart, with a different waveform: far more coincidences than chance
    rng = np.random.default_rng(6)
    one = _refractory_train(15, 60.0, 0.003, rng)
    times = np.concatenate([one, one + 30])
    truth = np.concatenate([np.zeros(one.size, int), np.ones(one.size, int)])
    order = np.argsort(times, kind="stable")
    times, truth = times[order], truth[order]
    labels, decisions = split_labels(_two_blob_features(truth, rng), times, np.zeros(times.size, int), SplitConfig(),
                                     FS, int(60 * FS))
    assert decisions[0]["observed"] > SplitConfig().max_ratio * decisions[0]["expected"]
    assert not decisions[0]["split"] and np.all(labels == 0)


def test_too_few_expected_coincidences_leave_the_cluster_whole():
    rng = np.random.default_rng(3)
    a, b = _refractory_train(1, 60.0, 0.003, rng), _refractory_train(1, 60.0, 0.003, rng)
    times = np.sort(np.concatenate([a, b]))
    truth = np.isin(times, b).astype(int)
    labels, decisions = split_labels(_two_blob_features(truth, rng), times, np.zeros(times.size, int), SplitConfig(
        min_size=5), FS, int(60 * FS))
    # even an even split of these peaks could not be judged: the mixture is not fitted
    assert decisions == []
    assert np.all(labels == 0)


def test_unassigned_peaks_stay_unassigned_and_labels_are_renumbered():
    rng = np.random.default_rng(4)
    a, b = _refractory_train(10, 60.0, 0.003, rng), _refractory_train(10, 60.0, 0.003, rng)
    times = np.concatenate([a, b])
    truth = np.concatenate([np.zeros(a.size, int), np.ones(b.size, int)])
    order = np.argsort(times, kind="stable")
    times, truth = times[order], truth[order]
    labels_in = np.full(times.size, 3)
    labels_in[::7] = -1
    labels, _ = split_labels(_two_blob_features(truth, rng), times, labels_in, SplitConfig(), FS, int(60 * FS))
    assert np.all(labels[labels_in == -1] == -1)
    assert set(np.unique(labels)) == {-1, 0, 1}


def test_config_is_checked():
    with pytest.raises(ValueError, match="dead_ms"):
        SplitConfig(dead_ms=3.0, refractory_ms=2.0)
    with pytest.raises(ValueError, match="min_fraction"):
        SplitConfig(min_fraction=0.6)
    with pytest.raises(ValueError, match="max_ratio"):
        SplitConfig(min_ratio=2.0, max_ratio=1.5)


def _same_place_recording(trains, seed=0):
    """Two units at the same place with different waveforms (narrow vs broad), injected into noise."""
    from spikeinterface.core import NumpySorting
    from spikeinterface.core.generate import InjectTemplatesRecording
    from spikeinterface.generation import NoiseGeneratorRecording
    from spikeinterface.core.generate import generate_templates

    from si_amortized.datasets.probes import neuropixels1_like_probe

    probe = neuropixels1_like_probe(32)
    locations = probe.contact_positions
    units = np.array([[35.0, 160.0, 20.0], [35.0, 160.0, 20.0]])
    templates = generate_templates(
        locations, units, FS, ms_before=1.0, ms_after=3.0, seed=seed,
        unit_params=dict(alpha=np.array([300.0, 300.0]), repolarization_ms=np.array([0.5, 1.4]),
                         positive_amplitude=np.array([0.05, 0.6]), depolarization_ms=np.array([0.09, 0.2]), recovery_ms=np.array([1.0, 1.0]),
                         spatial_decay=np.array([30.0, 30.0]), propagation_speed=np.array([300.0, 300.0])),
    )
    duration = 60.0
    noise = NoiseGeneratorRecording(num_channels=32, sampling_frequency=FS, durations=[duration], noise_levels=10.0,
                                    seed=seed)
    noise.set_probe(probe)
    samples = np.concatenate(trains)
    unit_labels = np.concatenate([np.full(t.size, i) for i, t in enumerate(trains)])
    order = np.argsort(samples, kind="stable")
    sorting = NumpySorting.from_samples_and_labels([samples[order]], [unit_labels[order]], FS)
    recording = InjectTemplatesRecording(sorting, templates, nbefore=int(FS / 1000), parent_recording=noise)
    recording.set_probe(probe)
    main = int(np.argmax(np.abs(templates).max(axis=1).max(axis=0)))
    return recording, samples[order], unit_labels[order], main


@pytest.mark.parametrize("independent", [True, False])
def test_split_clusters_on_traces_separates_two_cells_at_one_place(independent):
    from spikeinterface.core.node_pipeline import base_peak_dtype

    rng = np.random.default_rng(5)
    if independent:
        trains = [_refractory_train(10, 60.0, 0.003, rng), _refractory_train(10, 60.0, 0.003, rng)]
    else:  # one cell, its spikes alternating between the two waveforms
        one = _refractory_train(20, 60.0, 0.003, rng)
        trains = [one[::2], one[1::2]]
    recording, samples, truth, main = _same_place_recording(trains)
    peaks = np.zeros(samples.size, dtype=base_peak_dtype)
    peaks["sample_index"] = samples
    peaks["channel_index"] = main
    labels, decisions = split_clusters(recording, peaks, np.zeros(samples.size, int), np.full(32, 10.0, "float32"),
                                       SplitConfig(), dict(n_jobs=1, progress_bar=False), seed=0)
    if independent:
        assert decisions[0]["split"]
        assert max(np.mean(labels == truth), np.mean(labels != truth)) > 0.98
    else:
        assert not any(d["split"] for d in decisions)
        assert np.all(labels == 0)


def test_clip_robust_clips_each_column_to_its_median_plus_minus_robust_sds():
    rng = np.random.default_rng(7)
    features = rng.normal(size=(1001, 3))
    features[:, 1] *= 5.0
    features[:, 2] = 2.0  # no spread: left as it is
    features[0, :2] = [100.0, -100.0]
    got = clip_robust(features, 3.0)
    for c in (0, 1):
        median = np.median(features[:, c])
        sd = 1.4826 * np.median(np.abs(features[:, c] - median))
        np.testing.assert_allclose(got[:, c], np.clip(features[:, c], median - 3 * sd, median + 3 * sd))
    assert got[0, 0] < 4.0 and got[0, 1] > -20.0  # the outliers are pulled in
    np.testing.assert_array_equal(got[:, 2], features[:, 2])
    inside = np.abs(features[1:, 0]) < 2.5  # well within the bounds: untouched
    np.testing.assert_array_equal(got[1:, 0][inside], features[1:, 0][inside])


def test_clipping_lets_the_mixture_find_two_cells_that_a_few_outliers_hide():
    """A few spikes distorted by overlapping spikes lie far out on some features: without clipping they take one
    of the mixture's two components and the two cells stay together."""
    rng = np.random.default_rng(8)
    a, b = _refractory_train(15, 60.0, 0.003, rng), _refractory_train(15, 60.0, 0.003, rng)
    times = np.concatenate([a, b])
    truth = np.r_[np.zeros(a.size, int), np.ones(b.size, int)]
    features = rng.normal(size=(times.size, 64))
    features[:, 0] += 6.0 * truth  # the cells differ by 6 sd along one direction
    outliers = rng.choice(times.size, times.size // 25, replace=False)
    features[np.ix_(outliers, rng.choice(64, 8, replace=False))] += rng.choice([-60.0, 60.0], (outliers.size, 8))
    order = np.argsort(times)
    times, truth, features = times[order], truth[order], features[order]
    labels = np.zeros(times.size, int)
    clipped, decisions = split_labels(features, times, labels, SplitConfig(max_depth=1), FS, int(60 * FS))
    assert decisions[0]["split"]
    assert max(np.mean(clipped == truth), np.mean(clipped != truth)) > 0.95
    plain, _ = split_labels(features, times, labels, SplitConfig(max_depth=1, clip_sd=0.0), FS, int(60 * FS))
    assert max(np.mean(plain == truth), np.mean(plain != truth)) < 0.8
    with pytest.raises(ValueError, match="clip_sd"):
        SplitConfig(clip_sd=-1.0)


@pytest.mark.parametrize("independent", [True, False])
def test_split_matched_units_separates_two_cells_matched_into_one_unit(independent):
    from spikeinterface.core import NumpySorting
    from spikeinterface.core.node_pipeline import base_peak_dtype

    from si_amortized.sorters.location_sorter import split_matched_units

    rng = np.random.default_rng(6)
    if independent:
        trains = [_refractory_train(10, 60.0, 0.003, rng), _refractory_train(10, 60.0, 0.003, rng)]
    else:
        one = _refractory_train(20, 60.0, 0.003, rng)
        trains = [one[::2], one[1::2]]
    recording, samples, truth, main = _same_place_recording(trains)
    # matching gave every spike of both to unit 7 (the id of their cluster), and unit 3 holds a few others
    others = np.sort(rng.choice(np.setdiff1d(np.arange(1000, int(59 * FS)), samples), 40, replace=False))
    all_samples = np.concatenate([samples, others])
    ids = np.r_[np.full(samples.size, 7), np.full(others.size, 3)]
    order = np.argsort(all_samples, kind="stable")
    sorting = NumpySorting.from_samples_and_labels([all_samples[order]], [ids[order]], FS, unit_ids=np.array([3, 7]))
    peaks = np.zeros(all_samples.size, dtype=base_peak_dtype)
    peaks["sample_index"] = all_samples[order]
    peaks["channel_index"] = main
    labels = ids[order]
    new, decisions = split_matched_units(recording, sorting, peaks, labels, np.full(32, 10.0, "float32"), SplitConfig(),
                                         dict(n_jobs=1, progress_bar=False), seed=0)
    judged = [d for d in decisions if d["unit"] == 7]
    assert judged and all(d["unit"] in (3, 7) for d in decisions)
    np.testing.assert_array_equal(new.get_unit_spike_train(3), sorting.get_unit_spike_train(3))
    if independent:
        assert judged[0]["split"]
        assert list(new.unit_ids) == [3, 7, 8]
        halves = np.r_[new.get_unit_spike_train(7), new.get_unit_spike_train(8)]
        half_of = np.r_[np.zeros(new.get_unit_spike_train(7).size, int), np.ones(new.get_unit_spike_train(8).size, int)]
        got = half_of[np.argsort(halves)]
        assert max(np.mean(got == truth), np.mean(got != truth)) > 0.98
    else:
        assert not any(d["split"] for d in decisions)
        assert new is sorting
