"""Subtraction of overlapping spikes' templates before localization."""

import numpy as np
import pytest
from probeinterface import Probe
from spikeinterface.core import NumpyRecording, NumpySorting, create_sorting_analyzer

from si_amortized.localization.collisions import TemplateTerms, overlap_pairs, template_scales
from si_amortized.localization.config import FeatureConfig
from si_amortized.localization.neighbourhood import (
    channel_neighbours_mask,
    compute_examples,
    margin_samples,
    neighbourhood_from_config,
)

from .toy import FS, decay_amplitudes, grid_positions, spike_shape


def _templates(rng, num_units, num_channels, length=61, nbefore=30):
    shape = spike_shape(length, nbefore)
    return (shape[None, :, None] * rng.uniform(20, 200, (num_units, 1, num_channels))).astype("float32")


def _naive_pairs(targets, times, max_distance):
    return [(i, j) for i, t in enumerate(targets) for j, u in enumerate(times) if abs(u - t) <= max_distance]


def test_overlap_pairs_are_every_other_spike_within_the_distance_in_any_order():
    rng = np.random.default_rng(2)
    times = rng.integers(0, 300, 40)
    targets = np.array([3, 7, 8, 20])
    target, other = overlap_pairs(times[targets], times, 12, 12, target_index=targets)
    want = [(i, j) for i, j in _naive_pairs(times[targets], times, 12) if j != targets[i]]
    assert sorted(zip(target.tolist(), other.tolist())) == sorted(want)
    assert np.all(np.diff(target) >= 0)
    # targets that are not among the spikes keep every neighbour
    target, other = overlap_pairs(np.array([150]), times, 12, 12)
    assert sorted(other.tolist()) == sorted(j for _, j in _naive_pairs([150], times, 12))
    # an asymmetric range
    target, other = overlap_pairs(np.array([150]), times, 5, 20)
    assert sorted(other.tolist()) == sorted(j for j, u in enumerate(times) if -5 <= u - 150 <= 20)
    assert overlap_pairs(np.zeros(0, np.int64), times, 12, 12)[0].shape == (0,)


def _naive_residual(traces, times, units, templates, nbefore, scales):
    out = traces.astype("float64").copy()
    for t, u, a in zip(times, units, scales):
        for m in range(templates.shape[1]):
            if 0 <= t - nbefore + m < traces.shape[0]:
                out[t - nbefore + m] -= a * templates[u, m]
    return out


def test_template_terms_add_the_naive_sum_of_templates_to_any_window():
    rng = np.random.default_rng(3)
    templates = _templates(rng, 4, 5)
    traces = rng.normal(0, 10, (500, 5)).astype("float32")
    # spike 0 overlapped by 7 others, templates partly or wholly outside the windows cut
    times = np.r_[220, rng.integers(150, 300, 7)]
    units, scales = rng.integers(0, 4, times.size), rng.uniform(0.5, 2.0, times.size)
    want_full = _naive_residual(traces, times[1:], units[1:], templates, 30, scales[1:])
    terms = TemplateTerms.from_pairs(1, np.zeros(7, int), times[1:], units[1:], -scales[1:], templates, 30)
    for start, num_times in ((180, 64), (215, 5), (100, 3), (330, 64)):
        values = traces[start : start + num_times][None].copy()  # (1, num_times, channels)
        terms.add_to(values, np.array([0]), np.array([start]))
        np.testing.assert_allclose(values[0], want_full[start : start + num_times], atol=1e-3)
        chans = np.array([[4, 0, 2]])
        values = np.ascontiguousarray(traces[start : start + num_times][:, chans[0]].T[None])  # (1, K, num_times)
        terms.add_to(values, np.array([0]), np.array([start]), chans)
        np.testing.assert_allclose(values[0], want_full[start : start + num_times, chans[0]].T, atol=1e-3)
    # a spike without terms is left as is; values it cannot write in place are refused
    other = TemplateTerms.from_pairs(2, np.array([1]), times[:1], units[:1], [1.0], templates, 30)
    values = traces[:64][None].copy()
    other.add_to(values, np.array([0]), np.array([0]))
    np.testing.assert_array_equal(values[0], traces[:64])
    with pytest.raises(ValueError, match="float32"):
        other.add_to(values.astype("float64"), np.array([0]), np.array([0]))


def _naive_cleaned_window(traces, times, units, templates, nbefore, target, scales, half_window):
    """The traces around one spike minus the scaled templates of every other spike (the definition)."""
    others = [j for j in range(times.size) if j != target]
    cleaned = _naive_residual(traces, times[others], units[others], templates, nbefore, scales[others])
    start = times[target] - half_window
    return cleaned[start : start + 2 * half_window + 1].astype("float32")


def _grid_templates(rng, positions, num_units, length=61, nbefore=30):
    """Templates of point sources over the grid: exponential decay of a biphasic shape."""
    sources = np.column_stack([rng.uniform(0, 105, num_units), rng.uniform(0, 105, num_units),
                               rng.uniform(8, 25, num_units)])
    amps = decay_amplitudes(sources, positions, np.log(rng.uniform(150, 400, num_units)))
    return (spike_shape(length, nbefore)[None, :, None] * amps[:, None, :]).astype("float32")


def _crowded_grid(rng, num_units, num_spread, num_burst, burst_samples, num_samples=3000):
    """Spikes of point-source units over the grid, scaled and summed into noise, with a crowded burst.

    Returns the templates, config, neighbourhood, candidate mask, spike times, units, scales, traces and each
    spike's main channel.
    """
    positions = grid_positions()
    templates = _grid_templates(rng, positions, num_units)
    config = FeatureConfig()
    neighbourhood = neighbourhood_from_config(positions, config)
    candidates = channel_neighbours_mask(positions, config.peak_radius_um)
    times = np.sort(np.r_[rng.integers(200, 2800, num_spread), rng.integers(1000, 1000 + burst_samples, num_burst)])
    units, scales = rng.integers(0, num_units, times.size), rng.uniform(0.6, 1.6, times.size)
    traces = rng.normal(0, 5, (num_samples, len(positions))).astype("float32")
    for t, u, a in zip(times, units, scales):
        traces[t - 30 : t + 31] += a * templates[u]
    channels = np.argmax(np.abs(templates[units]).max(axis=1), axis=1)
    return templates, config, neighbourhood, candidates, times, units, scales, traces, channels


def test_examples_with_overlap_terms_equal_those_cut_from_each_spikes_cleaned_window():
    rng = np.random.default_rng(5)
    templates, config, neighbourhood, candidates, times, units, scales, traces, channels = _crowded_grid(
        rng, 6, 12, 8, 80)
    half = margin_samples(config, FS)
    target, other = overlap_pairs(times, times, 61 - 30 + half, 30 + half, target_index=np.arange(times.size))
    assert np.bincount(target).max() >= 5
    terms = TemplateTerms.from_pairs(times.size, target, times[other], units[other], -scales[other], templates, 30)
    got = compute_examples(traces, times, channels, neighbourhood, candidates, config, FS, terms=terms)
    for i in range(times.size):
        window = _naive_cleaned_window(traces, times, units, templates, 30, i, scales, half)
        want = compute_examples(window, np.array([half]), channels[i : i + 1], neighbourhood, candidates, config, FS)
        rows = got.spike_index == i
        np.testing.assert_array_equal(got.centre_channel[rows], want.centre_channel)
        np.testing.assert_allclose(got.waveforms[rows], want.waveforms, atol=1e-2)
        np.testing.assert_allclose(got.amplitudes[rows], want.amplitudes, atol=1e-2)


@pytest.mark.parametrize("model_rate", [None, 24000.0])
def test_projected_examples_are_the_projections_of_the_waveform_examples(model_rate):
    """Inference cuts a model's temporal components straight from the traces (with overlap terms, and
    through a resampling to the model's rate): the same as projecting the waveforms it replaces."""
    rng = np.random.default_rng(6)
    templates, config, neighbourhood, candidates, times, units, scales, traces, channels = _crowded_grid(
        rng, 5, 10, 6, 60)
    half = margin_samples(config, FS)
    target, other = overlap_pairs(times, times, 31 + half, 30 + half, target_index=np.arange(times.size))
    terms = TemplateTerms.from_pairs(times.size, target, times[other], units[other], -scales[other], templates, 30)
    raw = compute_examples(traces, times, channels, neighbourhood, candidates, config, FS, model_rate, terms=terms)
    basis = rng.normal(size=(6, raw.waveforms.shape[2])).astype("float32")
    got = compute_examples(traces, times, channels, neighbourhood, candidates, config, FS, model_rate, terms=terms,
                           temporal_basis=basis)
    assert got.projected and not raw.projected and got.waveforms.shape == raw.waveforms.shape[:2] + (6,)
    assert raw.spike_index.size > times.size  # amplitude jitter: more examples than spikes
    np.testing.assert_allclose(got.waveforms, raw.waveforms @ basis.T, rtol=1e-4, atol=2e-2)
    for name in ("observed", "amplitudes", "centre_channel", "spike_index", "valid"):
        np.testing.assert_array_equal(getattr(got, name), getattr(raw, name))


def test_overlap_terms_remove_a_scaled_overlapping_spike_exactly():
    rng = np.random.default_rng(0)
    templates = _templates(rng, 2, 6)
    traces = np.zeros((400, 6), dtype="float32")
    times, units, scales = np.array([150, 157]), np.array([0, 1]), np.array([1.0, 0.8], dtype="float32")
    for t, u, a in zip(times, units, scales):
        traces[t - 30 : t + 31] += a * templates[u]
    target, other = overlap_pairs(times, times, 80, 80, target_index=np.arange(2))
    terms = TemplateTerms.from_pairs(2, target, times[other], units[other], -scales[other], templates, 30)
    for spike in (0, 1):
        values = traces[times[spike] - 40 : times[spike] + 41][None].copy()
        terms.add_to(values, np.array([spike]), np.array([times[spike] - 40]))
        np.testing.assert_allclose(values[0, 10:71], scales[spike] * templates[units[spike]], atol=1e-4)
        assert np.abs(values[0, :10]).max() < 1e-4


def test_template_scale_is_the_least_squares_amplitude_on_the_main_channel():
    rng = np.random.default_rng(1)
    templates = _templates(rng, 1, 4)
    traces = np.zeros((200, 4), dtype="float32")
    traces[70:131] += 1.3 * templates[0]
    main = np.array([int(np.argmax(np.abs(templates[0]).max(axis=0)))])
    scale = template_scales(traces, np.array([100, 195]), np.array([0, 0]), templates, 30, main)
    assert scale[0] == pytest.approx(1.3, rel=1e-4)
    assert scale[1] == 1.0  # the window leaves the traces
    # against the definition on noisy traces with a NaN sample (counted as 0), clipped to the bounds
    traces = rng.normal(0, 30, (400, 4)).astype("float32")
    traces[75, main[0]] = np.nan
    times = np.array([40, 100, 250, 300])
    got = template_scales(traces, times, np.zeros(4, int), templates, 30, main, bounds=(-10.0, 10.0))
    shape = templates[0, :, main[0]].astype("float64")
    for t, g in zip(times, got):
        x = np.nan_to_num(traces[t - 30 : t + 31, main[0]].astype("float64"))
        assert g == pytest.approx(x @ shape / (shape @ shape), rel=1e-4, abs=1e-6)
    assert template_scales(traces, times, np.zeros(4, int), 0 * templates, 30, main).tolist() == [1.0] * 4


def _colliding_recording(seed=0, noise_uv=1.0):
    """Unit A at (30, 30), unit B at (75, 45): half of B's spikes fire 6 samples after one of A's."""
    rng = np.random.default_rng(seed)
    positions = grid_positions()
    sources = np.array([[30.0, 30.0, 12.0], [75.0, 45.0, 12.0]])
    amps = decay_amplitudes(sources, positions, np.log([250.0, 250.0]))
    shape = spike_shape()
    a_times = 200 + np.arange(300) * 300
    b_times = np.concatenate([a_times[:150] + 6, a_times[150:] + 150])
    num_samples = int(max(a_times.max(), b_times.max()) + 200)
    traces = rng.normal(0, noise_uv, (num_samples, len(positions))).astype("float32")
    for times, amp in ((a_times, amps[0]), (b_times, amps[1])):
        for t in times:
            traces[t - 30 : t + 31] += (shape[:, None] * amp[None, :]).astype("float32")
    recording = NumpyRecording([traces], sampling_frequency=FS)
    probe = Probe(ndim=2, si_units="um")
    probe.set_contacts(positions=positions, shapes="circle", shape_params={"radius": 5})
    probe.set_device_channel_indices(np.arange(len(positions)))
    recording.set_probe(probe)
    times = np.concatenate([a_times, b_times])
    labels = np.concatenate([np.zeros(300, int), np.ones(300, int)])
    order = np.argsort(times, kind="stable")
    sorting = NumpySorting.from_samples_and_labels([times[order]], [labels[order]], FS)
    sorting.set_property("gt_unit_locations", sources)
    return recording, sorting, sources


def test_subtraction_brings_colliding_spikes_back_to_their_isolated_locations(toy_model):
    recording, sorting, sources = _colliding_recording()
    analyzer = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    analyzer.compute("random_spikes", max_spikes_per_unit=500)
    analyzer.compute("templates")
    job = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
    with_sub = analyzer.compute("vae_locations", model=toy_model, **job)
    assert with_sub.params["subtract_overlaps"] is True
    clean = with_sub.get_data()
    raw = analyzer.compute("vae_locations", model=toy_model, subtract_overlaps=False, **job).get_data()
    spikes = sorting.to_spike_vector()
    soma = sources[spikes["unit_index"]]
    times = spikes["sample_index"]
    gap = np.minimum(np.abs(np.diff(times, prepend=-10**9)), np.abs(np.diff(times, append=10**12)))
    colliding = gap < 20
    err_clean = np.hypot(clean["x"] - soma[:, 0], clean["y"] - soma[:, 1])
    err_raw = np.hypot(raw["x"] - soma[:, 0], raw["y"] - soma[:, 1])
    assert colliding.sum() == 300
    assert np.mean(err_clean[colliding]) < 0.5 * np.mean(err_raw[colliding])
    # colliding spikes end up as close to the soma as isolated ones
    assert np.mean(err_clean[colliding]) < np.mean(err_clean[~colliding]) + 2.0
    np.testing.assert_allclose(clean["x"][~colliding], raw["x"][~colliding], atol=1e-4)
    # independent of chunking and workers (the margin holds the neighbours)
    other = analyzer.compute("vae_locations", model=toy_model, n_jobs=2, chunk_duration="0.37s",
                             progress_bar=False).get_data()
    np.testing.assert_allclose(other["x"], clean["x"], atol=1e-4)
    np.testing.assert_allclose(other["y"], clean["y"], atol=1e-4)


def test_subtraction_needs_templates_when_asked(toy_model):
    recording, sorting, _ = _colliding_recording()
    analyzer = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    assert analyzer.compute("vae_locations", model=toy_model).params["subtract_overlaps"] is False
    with pytest.raises(ValueError, match="templates"):
        analyzer.compute("vae_locations", model=toy_model, subtract_overlaps=True)
