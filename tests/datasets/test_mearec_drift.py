"""Drifting MEArec ground truth: templates along the probe, recordings that drift as told, their true displacement."""

import importlib.util

import numpy as np
import pytest

HAS_NEURON = importlib.util.find_spec("neuron") is not None and importlib.util.find_spec("LFPy") is not None


def test_a_drift_vector_of_the_wrong_length_is_refused_before_any_simulation(tmp_path):
    from si_amortized.datasets.mearec_drift import simulate_drifting_recording

    templates = tmp_path / "templates.h5"
    with pytest.raises(FileNotFoundError, match="simulate_drifting_templates"):
        simulate_drifting_recording(templates, np.zeros(50), 5.0, duration=10.0)
    templates.write_bytes(b"")
    with pytest.raises(ValueError, match="int\\(duration \\* drift_fs\\) = 50 samples"):
        simulate_drifting_recording(templates, np.zeros(49), 5.0, duration=10.0)
    with pytest.raises(ValueError, match="non_rigid_min_factor"):
        simulate_drifting_recording(templates, np.zeros(50), 5.0, duration=10.0, non_rigid_min_factor=1.5)


def test_the_cache_follows_the_templates_content_not_their_file_name(tmp_path, monkeypatch):
    """Same-named template files with other content get their own recording; an identical copy reuses it."""
    from si_amortized.datasets import mearec_drift

    monkeypatch.setenv("SI_AMORTIZED_CACHE", str(tmp_path / "cache"))
    generated = []

    def fake_generate(output, **kwargs):  # stands in for MEArec: only the cache logic is under test
        generated.append(kwargs["templates"])
        output.write_bytes(b"recording")
        return output

    monkeypatch.setattr(mearec_drift, "_generate_and_save", fake_generate)
    files = {}
    for folder, content in (("a", b"first"), ("b", b"second"), ("c", b"first")):
        (tmp_path / folder).mkdir()
        files[folder] = tmp_path / folder / "templates.h5"
        files[folder].write_bytes(content)
    vector = np.zeros(50)
    first = mearec_drift.simulate_drifting_recording(files["a"], vector, 5.0, duration=10.0)
    assert mearec_drift.simulate_drifting_recording(files["a"], vector, 5.0, duration=10.0) == first
    other = mearec_drift.simulate_drifting_recording(files["b"], vector, 5.0, duration=10.0)
    copy = mearec_drift.simulate_drifting_recording(files["c"], vector, 5.0, duration=10.0)
    assert other != first and copy == first
    assert generated == [str(files["a"]), str(files["b"])]


@pytest.mark.neuron
@pytest.mark.slow
@pytest.mark.skipif(not HAS_NEURON, reason="NEURON/LFPy not installed: pip install 'si_amortized[simulation]'")
@pytest.mark.parametrize("non_rigid", [None, 0.2])
def test_recording_drifts_as_the_vector_says(non_rigid):
    """Every cell's true displacement is the vector (times its non-rigid factor), to one template step."""
    import MEArec as mr

    from si_amortized.datasets.mearec_drift import (
        drifting_ground_truth, simulate_drifting_recording, simulate_drifting_templates,
    )

    path = simulate_drifting_templates("Neuropixels-64", n_per_cell=1, cell_models=["L5_BP", "L5_NBC", "L5_TTPC1"],
                                       seed=3, drift_um=40.0, drift_steps=9)
    templates = mr.load_templates(path, verbose=False)
    assert templates.templates.shape[:2] == (3, 9)
    path_lengths = np.linalg.norm(templates.locations[:, -1] - templates.locations[:, 0], axis=1)
    np.testing.assert_allclose(path_lengths, 40.0, atol=1e-6)  # straight up the probe (MEArec z), 40 um
    np.testing.assert_allclose(templates.locations[:, -1, 2] - templates.locations[:, 0, 2], 40.0, atol=1e-6)

    duration, fs = 6.0, 5.0
    times = np.arange(int(duration * fs)) / fs
    vector = 15.0 * np.sin(2 * np.pi * times / duration)
    recording = simulate_drifting_recording(path, vector, fs, duration=duration, n_exc=1, n_inh=2, noise_level=5.0,
                                            non_rigid_min_factor=non_rigid, min_dist=5.0, min_amp=30.0, seed=2)
    truth = drifting_ground_truth(recording, sampling_frequency=fs)
    moved = truth["unit_displacements"][:, :, 1]
    assert moved.shape == (times.size, 3) and np.all(truth["unit_displacements"][:, :, 0] == 0)
    step = 40.0 / (9 - 1)
    factors = np.ones(3)
    if non_rigid is not None:  # the deepest cell moves fully, the shallowest by the factor, linear in depth
        depth = truth["unit_locations"][:, 1]
        factors = 1 - (depth - depth.min()) / np.ptp(depth) * (1 - non_rigid)
    for unit in range(3):
        np.testing.assert_allclose(moved[:, unit], vector * factors[unit], atol=1.5 * step)
    assert np.ptp(moved[:, np.argmax(factors)]) > 20.0

    # the traces drift too: each spike's centre of mass follows its cell's true displacement at its time
    from spikeinterface.core import create_sorting_analyzer

    from si_amortized.datasets.mearec import load_mearec

    traces, sorting = load_mearec(recording)
    analyzer = create_sorting_analyzer(sorting, traces, sparse=False)
    analyzer.compute(["random_spikes", "templates"])
    com = analyzer.compute("spike_locations", method="center_of_mass", method_kwargs=dict(radius_um=60.0)).get_data()
    spikes = sorting.to_spike_vector()
    unit = np.argmax(factors)
    mine = spikes["unit_index"] == unit
    at = np.minimum((spikes["sample_index"][mine] / sorting.sampling_frequency * fs).astype(int), times.size - 1)
    assert np.corrcoef(com["y"][mine], moved[at, unit])[0, 1] > 0.8
