"""Template matching after clustering recovers spikes that overlap in time and space."""

import numpy as np
import pytest
from probeinterface import Probe
from spikeinterface.core import NumpyRecording

import si_amortized.sorters  # noqa: F401
from si_amortized.sorters import sort_by_locations
from si_amortized.sorters.matching import MatchingConfig

FS = 30_000.0
PARAMS = dict(localization_method="center_of_mass", n_pcs=0, apply_preprocessing=False, bandwidth=10.0, matching=None,
              min_cluster_size=10, job_kwargs=dict(n_jobs=1, chunk_duration="1s", progress_bar=False))


def _planted_pairs(seed=0):
    """Two units 30 um apart on a 15 um grid; 40 times B fires 0.2 ms after A (one detected peak for both)."""
    rng = np.random.default_rng(seed)
    xs, ys = np.meshgrid(np.arange(8) * 15.0, np.arange(8) * 15.0)
    positions = np.column_stack([xs.ravel(), ys.ravel()])
    sources = np.array([[37.5, 45.0, 10.0], [67.5, 45.0, 10.0]])
    t = np.arange(-30, 31)
    shapes = [-np.exp(-0.5 * (t / 4.0) ** 2) + 0.35 * np.exp(-0.5 * ((t - 12) / 7.0) ** 2),  # narrow (A)
              -np.exp(-0.5 * (t / 6.0) ** 2) + 0.5 * np.exp(-0.5 * ((t - 18) / 6.0) ** 2)]  # broad (B)
    amplitudes = [np.exp(np.log(a) - np.linalg.norm(np.c_[positions, np.zeros(64)] - s, axis=1) / 28.0)
                  for s, a in zip(sources, (260.0, 200.0))]
    alone_a = 200 + np.arange(120) * 400
    alone_b = alone_a + 200
    pairs_a = alone_a[-1] + 400 + np.arange(40) * 400
    pairs_b = pairs_a + 6
    num_samples = int(pairs_b[-1] + 400)
    traces = rng.normal(0.0, 2.0, (num_samples, 64)).astype("float32")
    for unit, times in ((0, np.r_[alone_a, pairs_a]), (1, np.r_[alone_b, pairs_b])):
        for time in times:
            traces[time - 30 : time + 31] += (shapes[unit][:, None] * amplitudes[unit][None, :]).astype("float32")
    recording = NumpyRecording([traces], sampling_frequency=FS)
    probe = Probe(ndim=2, si_units="um")
    probe.set_contacts(positions=positions, shapes="circle", shape_params={"radius": 5})
    probe.set_device_channel_indices(np.arange(64))
    recording.set_probe(probe, in_place=True)
    return recording, pairs_b


def _recall_of_hidden_spikes(sorting, hidden):
    best = 0.0
    for unit in sorting.unit_ids:
        train = sorting.get_unit_spike_train(unit)
        found = np.mean([np.any(np.abs(train - t) <= 3) for t in hidden])
        best = max(best, found)
    return best


@pytest.fixture(scope="module")
def planted():
    return _planted_pairs()


@pytest.mark.parametrize("engine", ["wobble"])
def test_matching_recovers_overlapping_spikes_that_clustering_misses(planted, engine):
    recording, hidden = planted
    clustered, _ = sort_by_locations(recording, PARAMS)
    # merge=False: the matching alone (SpikeInterface's final cleaning is exercised on MEArec data)
    matched, _ = sort_by_locations(recording, dict(PARAMS, matching=engine, matching_kwargs=dict(merge=False)))
    assert clustered.get_num_units() == 2 and matched.get_num_units() == 2
    assert _recall_of_hidden_spikes(clustered, hidden) < 0.2  # one peak for two spikes: B's is lost
    assert _recall_of_hidden_spikes(matched, hidden) > 0.8


def test_matching_is_deterministic_and_ignores_n_jobs(planted):
    recording, _ = planted
    settings = dict(PARAMS, matching="wobble", matching_kwargs=dict(merge=False))
    one, _ = sort_by_locations(recording, settings)
    two, _ = sort_by_locations(recording, dict(settings, job_kwargs=dict(n_jobs=2, chunk_duration="1s", progress_bar=False)))
    a, b = one.to_spike_vector(), two.to_spike_vector()
    np.testing.assert_array_equal(a["sample_index"], b["sample_index"])
    np.testing.assert_array_equal(a["unit_index"], b["unit_index"])


def test_matching_runs_blas_with_the_workers_thread_count_for_every_n_jobs(planted, monkeypatch):
    # with n_jobs=1 SpikeInterface matches in the main process, where BLAS would use every core: its sums then
    # differ in the last bits from the workers' single-thread ones, enough to flip borderline spikes
    import spikeinterface.sortingcomponents.matching as matching_module
    from threadpoolctl import threadpool_info

    seen = []
    original = matching_module.find_spikes_from_templates

    def spy(*args, **kwargs):
        seen.append(max((pool["num_threads"] for pool in threadpool_info()), default=1))
        return original(*args, **kwargs)

    monkeypatch.setattr(matching_module, "find_spikes_from_templates", spy)
    recording, _ = planted
    settings = dict(PARAMS, matching="circus-omp")
    for threads in (1, 2):
        job_kwargs = dict(n_jobs=1, chunk_duration="1s", progress_bar=False, max_threads_per_worker=threads)
        sort_by_locations(recording, dict(settings, job_kwargs=job_kwargs))
    machine = max((pool["num_threads"] for pool in threadpool_info()), default=1)
    assert seen[0] == 1
    assert seen[1] == 2 or machine < 2


def test_bad_matching_settings_are_refused():
    with pytest.raises(ValueError, match="engine"):
        MatchingConfig(engine="kilosort")
    with pytest.raises(TypeError):
        MatchingConfig(no_such_field=1)


def test_circus_omp_drops_matches_below_the_minimum_amplitude_scaling(planted):
    # copies of unit A at 0.55 of its amplitude, alone in the traces: circus-omp keeps them at a floor of 0.4
    # and drops them at 0.75 (the unit's template, a mean over its spikes, stays near full amplitude)
    recording, _ = planted
    traces = recording.get_traces().copy()
    template = traces[200 - 30 : 200 + 31].copy()  # unit A's first spike, alone (noise included)
    start = traces.shape[0]
    weak = start + 200 + np.arange(15) * 400
    traces = np.concatenate([traces, np.random.default_rng(1).normal(0.0, 2.0, (15 * 400 + 400, 64)).astype("float32")])
    for time in weak:
        traces[time - 30 : time + 31] += 0.55 * template
    weak_recording = NumpyRecording([traces], sampling_frequency=FS)
    weak_recording.set_probe(recording.get_probe(), in_place=True)

    def weak_found(floor):
        # no amplitude feature: it would give the 0.55 copies a cluster (and a template) of their own
        settings = dict(PARAMS, matching="circus-omp", amplitude_scale=0.0,
                        matching_kwargs=dict(merge=False, min_amplitude_scaling=floor))
        sorting, _ = sort_by_locations(weak_recording, settings)
        found = np.concatenate([sorting.get_unit_spike_train(u) for u in sorting.unit_ids])
        return np.mean([np.any(np.abs(found - t) <= 3) for t in weak])

    assert weak_found(0.4) > 0.8
    assert weak_found(0.75) < 0.2
    with pytest.raises(ValueError, match="min_amplitude_scaling"):
        MatchingConfig(min_amplitude_scaling=1.2)


def test_min_spikes_drops_exactly_the_units_matched_fewer_times(planted):
    recording, _ = planted
    settings = dict(PARAMS, matching="circus-omp")
    every, _ = sort_by_locations(recording, dict(settings, matching_kwargs=dict(min_spikes=0)))
    counts = every.count_num_spikes_per_unit(outputs="dict")
    assert len(counts) == 2 and len(set(counts.values())) == 2  # the pairs' hidden B spikes: unequal counts
    floor = max(counts.values())
    kept, _ = sort_by_locations(recording, dict(settings, matching_kwargs=dict(min_spikes=floor)))
    assert list(kept.unit_ids) == [u for u, n in counts.items() if n >= floor]
    for unit in kept.unit_ids:
        np.testing.assert_array_equal(kept.get_unit_spike_train(unit), every.get_unit_spike_train(unit))
    with pytest.raises(ValueError, match="min_spikes"):
        MatchingConfig(min_spikes=-1)



def test_matched_fractions_sum_the_peaks_of_merged_duplicates():
    from spikeinterface.core import NumpySorting

    from si_amortized.sorters.matching import matched_fractions

    labels = np.array([0] * 10 + [1] * 30 + [2] * 20 + [-1] * 5)
    sorting = NumpySorting.from_samples_and_labels([np.arange(24) * 100], [np.array([0] * 20 + [2] * 4)], FS)
    fractions = matched_fractions(sorting, labels, {0: [0, 1], 2: [2]})
    np.testing.assert_allclose(fractions, [20 / 40, 4 / 20])


def test_absorption_moves_a_shifted_copy_into_its_cell_on_the_cells_time_reference():
    """A unit whose template is a cell's delayed by 6 samples and whose spikes matching mostly took away."""
    from spikeinterface.core import NumpySorting, Templates

    from si_amortized.sorters.matching import _absorb_units

    rng = np.random.default_rng(3)
    t = np.arange(60)
    shape_a = -np.exp(-0.5 * ((t - 20) / 3.0) ** 2) + 0.4 * np.exp(-0.5 * ((t - 32) / 6.0) ** 2)
    shape_c = np.sin(t / 5.0) * np.exp(-0.5 * ((t - 30) / 8.0) ** 2)
    spread = rng.uniform(0.2, 1.0, 8)
    a = shape_a[:, None] * spread[None, :]
    delayed = np.zeros_like(a)
    delayed[6:] = a[:-6]
    c = shape_c[:, None] * rng.uniform(0.2, 1.0, 8)[None, :]
    templates = Templates(templates_array=np.stack([a, delayed, c]).astype("float32"), sampling_frequency=FS,
                          nbefore=20, unit_ids=np.array([0, 1, 2]), channel_ids=np.arange(8), is_in_uV=False)
    num_samples = 300_000
    events = np.sort(rng.choice(np.arange(1000, num_samples - 1000, 1000), 260, replace=False))
    own, copies = events[:200], events[200:230]  # the copy's events, found 6 samples early
    other = events[230:] + 400
    train = np.r_[own, copies - 6, other, [own[5] - 6]]  # the last: one of A's own spikes found twice
    units = np.r_[np.zeros(200), np.ones(30), np.full(30, 2), [1]].astype(int)
    order = np.argsort(train, kind="stable")
    sorting = NumpySorting.from_samples_and_labels([train[order]], [units[order]], FS, unit_ids=[0, 1, 2])
    labels = np.r_[np.zeros(200), np.ones(100), np.full(40, 2)].astype(int)  # unit 1's cluster had 100 peaks
    recording = NumpyRecording([np.zeros((num_samples, 8), dtype="float32")], sampling_frequency=FS)
    config = MatchingConfig()
    absorbed, decisions = _absorb_units(recording, sorting, templates, labels, {0: [0], 1: [1], 2: [2]}, config)
    assert list(absorbed.unit_ids) == [0, 2]
    # the copy's spikes now sit on A's events; the spike found twice is not counted twice
    np.testing.assert_array_equal(absorbed.get_unit_spike_train(0), np.sort(np.r_[own, copies]))
    np.testing.assert_array_equal(absorbed.get_unit_spike_train(2), np.sort(other))
    (decision,) = [d for d in decisions if d["units"][0] == 1]
    assert decision["absorbed"] and decision["units"] == (1, 0) and decision["lag"] == 6
    assert decision["cosine"] > 0.99 and decision["fraction"] == pytest.approx(31 / 100)
    # unit 2 kept 30 of 40 peaks (0.75): not a candidate; with absorption off nothing moves
    assert all(d["units"][0] != 2 for d in decisions)
    same, none = _absorb_units(recording, sorting, templates, labels, {0: [0], 1: [1], 2: [2]},
                               MatchingConfig(absorb_fraction=0.0))
    assert list(same.unit_ids) == [0, 1, 2] and none == []


def test_absorption_refuses_a_different_waveform_or_a_train_that_breaks_the_refractory_period():
    from si_amortized.sorters.duplicates import AbsorbConfig, DuplicateConfig, absorbed_units, lagged_cosines

    rng = np.random.default_rng(4)
    templates = rng.normal(size=(4, 40, 6))
    templates[1] = np.roll(templates[0], 3, axis=0)  # A delayed by 3 (the rolled-in samples: nearly alike)
    templates[3] = np.roll(templates[0], -2, axis=0)  # A early by 2
    # naive reference of the lagged cosine
    ref = np.zeros((4, 11))
    for j in range(4):
        for c, k in enumerate(range(-5, 6)):
            moved = np.zeros_like(templates[j])
            if k >= 0:
                moved[k:] = templates[j][: 40 - k]
            else:
                moved[:k] = templates[j][-k:]
            ref[j, c] = (templates[0] * moved).sum() / np.linalg.norm(templates[0]) / np.linalg.norm(templates[j])
    np.testing.assert_allclose(lagged_cosines(templates[0], templates, 5), ref, atol=1e-12)
    total = 600_000
    big = np.arange(150, total, 300)  # A fires every 10 ms
    lone = np.sort(rng.choice(big[:-1], 40, replace=False)) + 150 - 3  # 5 ms from A's spikes, 3 samples early
    # unit 3's spikes sit 20-50 samples (0.7-1.7 ms) after A's: one cell cannot fire so
    tight = np.sort(big[:300] + rng.integers(20, 50, 300))
    templates = np.concatenate([templates, templates[1:2]])
    half = [np.sort(rng.choice(big[:-1], 1100, replace=False)) + 150 - 3]  # a copy of A, but 0.55 of its size
    trains = [[big], [lone], [lone + 7], [tight], half]
    fractions = np.array([1.0, 0.2, 0.2, 0.3, 0.4])
    target, lag, decisions = absorbed_units(templates, trains, fractions, AbsorbConfig(), DuplicateConfig(), FS, total)
    assert target.tolist() == [-1, 0, -1, -1, -1] and lag[1] == 3
    by_unit = {d["units"][0]: d for d in decisions}
    assert by_unit[2]["cosine"] < 0.7 and not by_unit[2]["absorbed"]  # another waveform: it stays
    assert by_unit[3]["cosine"] > 0.9 and by_unit[3]["observed"] > 100 and not by_unit[3]["absorbed"]
    assert by_unit[4]["units"] == (4, None) and not by_unit[4]["absorbed"]  # not small beside A: no fragment
    with pytest.raises(ValueError, match="absorb"):
        MatchingConfig(absorb_cosine=1.5)
