"""Units that are one cell found twice are merged; independent cells with alike templates are not."""

import numpy as np
import pytest
from spikeinterface.core import get_noise_levels
from spikeinterface.core.node_pipeline import base_peak_dtype

from si_amortized.sorters.duplicates import DuplicateConfig, duplicate_groups, template_cosines
from si_amortized.sorters.matching import MatchingConfig, match_templates

from .test_matching import _planted_pairs

FS = 30_000.0
JOB = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)


def _template(seed, num_samples=40, num_channels=6):
    return np.random.default_rng(seed).normal(size=(num_samples, num_channels))


def _refractory_train(rng, rate_hz, duration_s, refractory_ms=3.0):
    """A renewal train whose intervals never fall below the refractory period (samples, sorted)."""
    intervals = rng.exponential(1.0 / rate_hz, size=int(3 * rate_hz * duration_s)) + refractory_ms / 1000.0
    times = np.cumsum(intervals)
    return np.round(times[times < duration_s] * FS).astype(np.int64)


def test_template_cosines_match_a_naive_loop():
    templates = np.stack([_template(s) for s in range(4)])
    templates[3] = 0.0  # an empty template: cosine 0 with everything
    got = template_cosines(templates)
    for i in range(4):
        for j in range(4):
            a, b = templates[i].ravel(), templates[j].ravel()
            norm = np.linalg.norm(a) * np.linalg.norm(b)
            assert got[i, j] == pytest.approx(a @ b / norm if norm > 0 else 0.0, abs=1e-12)


def test_one_cell_cut_in_two_is_merged():
    rng = np.random.default_rng(0)
    train = _refractory_train(rng, 20.0, 60.0)
    halves = rng.random(train.size) < 0.5
    shape = _template(1)
    templates = np.stack([shape, 1.02 * shape + 0.01 * _template(2), _template(3)])
    trains = [[train[halves]], [train[~halves]], [_refractory_train(rng, 20.0, 60.0)]]
    group, decisions = duplicate_groups(templates, trains, DuplicateConfig(), FS, int(60 * FS))
    np.testing.assert_array_equal(group, [0, 0, 2])
    (decision,) = decisions  # only the alike pair is a candidate
    assert decision["units"] == (0, 1) and decision["merged"] and decision["observed"] == 0
    assert decision["expected"] > 4  # the refractory period was informative here


def test_independent_cells_with_the_same_template_stay_apart():
    rng = np.random.default_rng(1)
    shape = _template(1)
    trains = [[_refractory_train(rng, 20.0, 60.0)], [_refractory_train(rng, 20.0, 60.0)]]
    group, (decision,) = duplicate_groups(np.stack([shape, shape]), trains, DuplicateConfig(), FS, int(60 * FS))
    np.testing.assert_array_equal(group, [0, 1])
    assert not decision["merged"]
    # about as many coincidences as chance gives
    assert 0.5 * decision["expected"] < decision["observed"] < 2.0 * decision["expected"]


def test_three_pieces_of_one_cell_become_one_unit_and_the_threshold_is_respected():
    rng = np.random.default_rng(2)
    train = _refractory_train(rng, 15.0, 60.0)
    piece = rng.integers(0, 3, train.size)
    shape = _template(4)
    templates = np.stack([shape, shape * 1.01, shape * 0.99])
    trains = [[train[piece == k]] for k in range(3)]
    group, decisions = duplicate_groups(templates, trains, DuplicateConfig(), FS, int(60 * FS))
    np.testing.assert_array_equal(group, [0, 0, 0])
    assert sum(d["merged"] for d in decisions) == 2
    off, none = duplicate_groups(templates, trains, DuplicateConfig(min_cosine=1.0, fragment_cosine=1.0), FS, int(60 * FS))
    np.testing.assert_array_equal(off, [0, 1, 2])
    assert none == []
    with pytest.raises(ValueError, match="dead_ms"):
        DuplicateConfig(dead_ms=3.0)


def _distorted(shape, cosine, seed):
    """``shape`` plus an orthogonal component so that the cosine between the two is exactly ``cosine``."""
    other = _template(seed)
    u = shape.ravel() / np.linalg.norm(shape)
    other = other.ravel() - (other.ravel() @ u) * u
    other /= np.linalg.norm(other)
    return (np.linalg.norm(shape) * (cosine * u + np.sqrt(1 - cosine**2) * other)).reshape(shape.shape)


def test_a_small_fragment_is_merged_at_the_lower_cosine_only_when_small_and_refractory():
    rng = np.random.default_rng(3)
    train = _refractory_train(rng, 20.0, 60.0)
    burst = rng.random(train.size) < 0.1  # a tenth of the cell's spikes clustered apart
    shape = _template(5)
    templates = np.stack([shape, _distorted(shape, 0.82, 6)])
    assert template_cosines(templates)[0, 1] == pytest.approx(0.82)
    trains = [[train[~burst]], [train[burst]]]
    config = DuplicateConfig(fragment_cosine=0.8, fragment_ratio=0.2)
    group, (decision,) = duplicate_groups(templates, trains, config, FS, int(60 * FS))
    np.testing.assert_array_equal(group, [0, 0])
    assert decision["fragment"] and decision["merged"] and decision["ratio"] == pytest.approx(burst.mean() / (1 - burst.mean()))
    # the same pair without the fragment rule, or with a cosine below it: not a candidate
    for off in (DuplicateConfig(fragment_cosine=1.0), DuplicateConfig(fragment_cosine=0.85)):
        kept, none = duplicate_groups(templates, trains, off, FS, int(60 * FS))
        np.testing.assert_array_equal(kept, [0, 1])
        assert none == []
    # two halves of the cell are not a fragment at this ratio bound: the ratio rule skips them at this cosine
    half = rng.random(train.size) < 0.5
    kept, none = duplicate_groups(templates, [[train[~half]], [train[half]]], config, FS, int(60 * FS))
    np.testing.assert_array_equal(kept, [0, 1])
    assert none == []
    # a small independent cell with that template coincides by chance and stays apart
    small = _refractory_train(rng, 3.0, 60.0)
    kept, (judged,) = duplicate_groups(templates, [[train], [small]], config, FS, int(60 * FS))
    np.testing.assert_array_equal(kept, [0, 1])
    assert judged["fragment"] and not judged["merged"] and judged["observed"] > 2
    with pytest.raises(ValueError, match="fragment_ratio"):
        DuplicateConfig(fragment_ratio=1.0)
    with pytest.raises(ValueError, match="fragment_ratio"):  # refused with the sorter's parameters, before sorting
        MatchingConfig(fragment_ratio=1.5)


def test_a_fragment_needs_fewer_coincidences_than_an_identical_template():
    big = np.arange(1200) * 1500 + 100  # 20 Hz, 60 s
    small = np.sort(np.r_[big[:196] + 750, big[500:504] + 30])  # 4 spikes 1 ms after one of big's
    shape = _template(8)
    config = DuplicateConfig(fragment_cosine=0.8, fragment_ratio=0.2)
    outcomes = {}
    for cosine in (0.82, 0.99):
        templates = np.stack([shape, _distorted(shape, cosine, 9)])
        _, (decision,) = duplicate_groups(templates, [[big], [small]], config, FS, int(60 * FS))
        assert decision["observed"] == 4
        # 4 coincidences where chance gives ~12: more than a quarter of chance, less than half
        assert 0.25 * decision["expected"] < 4 <= 0.5 * decision["expected"]
        outcomes[cosine] = (decision["fragment"], decision["merged"])
    assert outcomes == {0.82: (True, False), 0.99: (False, True)}


def _planted_peaks(recording, split_a=True):
    """Peaks and labels of the planted recording's lone spikes (A's alternate between clusters 0 and 2)."""
    alone_a = 200 + np.arange(120) * 400
    alone_b = alone_a + 200
    positions = recording.get_channel_locations()
    main = [int(np.argmin(np.linalg.norm(positions - p, axis=1))) for p in ([37.5, 45.0], [67.5, 45.0])]
    peaks = np.zeros(alone_a.size + alone_b.size, dtype=base_peak_dtype)
    peaks["sample_index"] = np.r_[alone_a, alone_b]
    peaks["channel_index"] = np.r_[np.full(alone_a.size, main[0]), np.full(alone_b.size, main[1])]
    order = np.argsort(peaks["sample_index"])
    label_a = np.where(np.arange(alone_a.size) % 2 == 0, 0, 2) if split_a else np.zeros(alone_a.size, dtype=int)
    return peaks[order], np.r_[label_a, np.ones(alone_b.size, dtype=int)][order]


def test_wobble_threshold_is_in_noise_units_so_scaling_the_traces_changes_nothing(monkeypatch):
    import spikeinterface.sortingcomponents.matching as matching_module
    from spikeinterface.core import NumpyRecording

    thresholds = []
    original = matching_module.find_spikes_from_templates

    def spy(*args, method_kwargs=None, **kwargs):
        thresholds.append(method_kwargs["parameters"]["threshold"])
        return original(*args, method_kwargs=method_kwargs, **kwargs)

    monkeypatch.setattr(matching_module, "find_spikes_from_templates", spy)
    recording, _ = _planted_pairs()
    scaled = NumpyRecording([recording.get_traces() * 25.0], sampling_frequency=recording.sampling_frequency)
    scaled.set_probe(recording.get_probe(), in_place=True)
    peaks, labels = _planted_peaks(recording, split_a=False)
    config = MatchingConfig(engine="wobble")
    runs = [match_templates(rec, peaks, labels, get_noise_levels(rec, return_in_uV=False, seed=0), config, JOB)[0]
            for rec in (recording, scaled)]
    a, b = (run.to_spike_vector() for run in runs)
    assert a.size >= 0.9 * (2 * 120 + 2 * 40)  # the lone spikes and most hidden ones
    np.testing.assert_array_equal(a, b)
    # the objective is quadratic in the traces: 25 times the traces, 625 times the threshold
    assert thresholds[1] == pytest.approx(625.0 * thresholds[0], rel=1e-3)
    noise = np.median(get_noise_levels(recording, return_in_uV=False, seed=0))
    assert thresholds[0] == pytest.approx(300.0 * noise**2, rel=1e-6)
    with pytest.raises(ValueError, match="wobble_threshold"):
        MatchingConfig(wobble_threshold=0.0)


def test_matching_merges_a_cell_whose_peaks_were_given_two_clusters():
    recording, _ = _planted_pairs()
    # the planted recording's lone spikes, A's peaks alternating between clusters 0 and 2: one cell cut in two
    peaks, labels = _planted_peaks(recording)
    noise = get_noise_levels(recording, return_in_uV=False)

    def sort(cosine):
        config = MatchingConfig(engine="circus-omp", duplicate_cosine=cosine)
        return match_templates(recording, peaks, labels, noise, config, JOB)[:2]

    kept, no_decisions = sort(1.0)
    merged, decisions = sort(0.97)
    assert sorted(kept.unit_ids) == [0, 1, 2] and no_decisions == []
    assert sorted(merged.unit_ids) == [0, 1]
    assert [d["units"] for d in decisions if d["merged"]] == [(0, 2)]
    # the merged unit holds both halves' spikes, B is untouched
    both = np.sort(np.r_[kept.get_unit_spike_train(0), kept.get_unit_spike_train(2)])
    np.testing.assert_array_equal(merged.get_unit_spike_train(0), both)
    np.testing.assert_array_equal(merged.get_unit_spike_train(1), kept.get_unit_spike_train(1))
