"""Subtraction of overlapping spikes' templates before localization."""

import numpy as np
import pytest
from probeinterface import Probe
from spikeinterface.core import NumpyRecording, NumpySorting, create_sorting_analyzer

from si_amortized.localization.collisions import cleaned_windows, overlapping_spikes, template_scales

from .toy import FS, decay_amplitudes, grid_positions, spike_shape


def _templates(rng, num_units, num_channels, length=61, nbefore=30):
    shape = spike_shape(length, nbefore)
    return (shape[None, :, None] * rng.uniform(20, 200, (num_units, 1, num_channels))).astype("float32")


def test_overlapping_spikes_lists_the_others_within_the_distance():
    times = np.array([0, 5, 9, 30, 31, 100])
    got = overlapping_spikes(times, np.array([0, 1, 3, 5]), 5)
    assert [g.tolist() for g in got] == [[1], [0, 2], [4], []]


def test_cleaned_window_removes_a_scaled_overlapping_spike_exactly():
    rng = np.random.default_rng(0)
    templates = _templates(rng, 2, 6)
    traces = np.zeros((400, 6), dtype="float32")
    times, units, scales = np.array([150, 157]), np.array([0, 1]), np.array([1.0, 0.8])
    for t, u, a in zip(times, units, scales):
        traces[t - 30 : t + 31] += a * templates[u]
    windows = cleaned_windows(traces, times, units, templates, 30, np.array([0, 1]),
                              overlapping_spikes(times, np.array([0, 1]), 80), half_window=40, scales=scales)
    np.testing.assert_allclose(windows[0, 10:71], templates[0], atol=1e-4)  # spike 0 alone, at sample 40
    np.testing.assert_allclose(windows[1, 10:71], 0.8 * templates[1], atol=1e-4)
    # zero where no spike is left
    assert np.abs(windows[0, :10]).max() < 1e-4


def _naive_cleaned_windows(traces, times, units, templates, nbefore, targets, neighbours, half_window, scales):
    """One target and one overlapping spike at a time: the definition."""
    width, length = 2 * half_window + 1, templates.shape[1]
    out = np.zeros((len(targets), width, traces.shape[1]), dtype="float64")
    for row, (target, others) in enumerate(zip(targets, neighbours)):
        start = times[target] - half_window
        for k in range(width):
            if 0 <= start + k < traces.shape[0]:
                out[row, k] = traces[start + k]
            for j in others:
                m = start + k - (times[j] - nbefore)  # sample of spike j's template at window sample k
                if 0 <= m < length:
                    out[row, k] -= scales[j] * templates[units[j], m]
    return out


def test_cleaned_windows_match_the_naive_definition_with_crowded_and_border_spikes():
    rng = np.random.default_rng(4)
    templates = _templates(rng, 5, 7)
    num_samples = 600
    traces = rng.normal(0, 10, (num_samples, 7)).astype("float32")
    # bursts of up to 6 spikes within a template length, some at the recording's borders
    times = np.sort(np.r_[rng.integers(0, 40, 4), rng.integers(250, 330, 12), rng.integers(560, 600, 4)])
    units = rng.integers(0, 5, times.size)
    scales = rng.uniform(0.5, 2.0, times.size)
    targets = np.arange(times.size)
    neighbours = overlapping_spikes(times, targets, 40 + 61)
    assert max(len(n) for n in neighbours) >= 6
    got = cleaned_windows(traces, times, units, templates, 30, targets, neighbours, half_window=40, scales=scales)
    want = _naive_cleaned_windows(traces, times, units, templates, 30, targets, neighbours, 40, scales)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-2)
    assert cleaned_windows(traces, times, units, templates, 30, targets[:0], [], half_window=40).shape == (0, 81, 7)


def test_template_scale_is_the_least_squares_amplitude_on_the_main_channel():
    rng = np.random.default_rng(1)
    templates = _templates(rng, 1, 4)
    traces = np.zeros((200, 4), dtype="float32")
    traces[70:131] += 1.3 * templates[0]
    main = np.array([int(np.argmax(np.abs(templates[0]).max(axis=0)))])
    scale = template_scales(traces, np.array([100, 195]), np.array([0, 0]), templates, 30, main)
    assert scale[0] == pytest.approx(1.3, rel=1e-4)
    assert scale[1] == 1.0  # the window leaves the traces


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
