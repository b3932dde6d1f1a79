"""Supervised training on spikes synthesized from templates with known somas."""

import numpy as np
import pytest

from si_amortized.localization import FeatureConfig, ModelConfig, SimulationConfig, TrainingConfig
from si_amortized.localization.simulated_training import (
    fit_simulated_localizer,
    simulated_examples,
    synthesize_spikes,
)

from .toy import decay_amplitudes, grid_positions, spike_shape

FS = 30_000.0


def _toy_templates(num, seed=0, positions=None):
    """Point-source templates (exact exponential decay) with known somas over a 6 x 6 grid."""
    rng = np.random.default_rng(seed)
    positions = grid_positions(6, 6) if positions is None else positions
    somas = np.column_stack([rng.uniform(0, 75, num), rng.uniform(0, 75, num), rng.uniform(8, 30, num)])
    amps = decay_amplitudes(somas, positions, np.log(rng.uniform(150, 300, num)))
    shape = spike_shape(91, 40)
    templates = shape[None, :, None] * amps[:, None, :]  # (num, samples, channels), trough at 40
    return templates.astype("float32"), somas, positions


def test_noise_free_synthesis_places_each_template_at_its_trough():
    templates, somas, _ = _toy_templates(5)
    config = SimulationConfig(spikes_per_template=3, noise_uv=(0.0, 0.0), amplitude_scale=(1.0, 1.0),
                              overlap_probability=0.0)
    traces, sample_index, channel_index, soma = synthesize_spikes(templates, somas, FS, config, seed=0)
    window = templates.shape[1]
    assert traces.shape == (15 * window, templates.shape[2]) and sample_index.size == 15
    for k, (t, c) in enumerate(zip(sample_index, channel_index)):
        start = k * window
        block = traces[start : start + window]
        unit = np.flatnonzero(np.all(np.isclose(somas, soma[k]), axis=1))[0]
        np.testing.assert_allclose(block, templates[unit], atol=1e-5)
        assert t == start + 40 and c == np.argmin(templates[unit].min(axis=0))


def test_noise_level_and_overlaps_follow_the_config():
    templates, somas, _ = _toy_templates(4)
    config = SimulationConfig(spikes_per_template=50, noise_uv=(12.0, 12.0), amplitude_scale=(1.0, 1.0),
                              overlap_probability=0.0)
    traces, _, _, soma = synthesize_spikes(np.zeros_like(templates), somas, FS, config, seed=1)
    assert traces.std() == pytest.approx(12.0, rel=0.03)
    clean = SimulationConfig(spikes_per_template=50, noise_uv=(0.0, 0.0), amplitude_scale=(1.0, 1.0),
                             overlap_probability=1.0)
    traces, *_ = synthesize_spikes(templates, somas, FS, clean, seed=1)
    alone = SimulationConfig(spikes_per_template=50, noise_uv=(0.0, 0.0), amplitude_scale=(1.0, 1.0),
                             overlap_probability=0.0)
    single, *_ = synthesize_spikes(templates, somas, FS, alone, seed=1)
    assert np.abs(traces).sum() > np.abs(single).sum() * 1.2  # every spike has a second template


def test_targets_are_somas_relative_to_each_examples_centre_channel():
    templates, somas, positions = _toy_templates(6)
    config = SimulationConfig(spikes_per_template=4, noise_uv=(0.0, 0.0), overlap_probability=0.0)
    examples, targets, spike_somas = simulated_examples(templates, somas, positions, FS, FeatureConfig(), config)
    absolute = targets.astype("float64").copy()
    absolute[:, :2] += positions[examples.centre_channel]
    np.testing.assert_allclose(absolute, spike_somas[examples.spike_index], atol=1e-4)


def test_simulation_trained_localizer_finds_held_out_somas_and_is_calibrated():
    templates, somas, positions = _toy_templates(160, seed=2)
    model = fit_simulated_localizer(
        templates[:120], somas[:120], positions, FS,
        FeatureConfig(half_width_um=30.0), ModelConfig(hidden_sizes=(64, 32)),
        TrainingConfig(epochs=12, batch_size=64, seed=0, max_spikes=20_000),
        SimulationConfig(spikes_per_template=60, noise_uv=(2.0, 8.0), calibration_fraction=0.2),
        description=dict(source="toy"),
    )
    assert model.metadata["training"] == "simulated"
    assert model.metadata["training_corpus"]["source"] == "toy"
    assert model.metadata["training_corpus"]["num_calibration_templates"] == 24
    cal = model.metadata["calibration"]
    np.testing.assert_allclose(np.asarray(cal["coverage_after"])[0, :2], 0.683, atol=0.02)
    # templates never seen in training or calibration
    from si_amortized.localization import aggregate_locations, predict_examples

    config = SimulationConfig(spikes_per_template=20, noise_uv=(2.0, 8.0))
    from si_amortized.localization.prepare import feature_config_of

    examples, _, truth = simulated_examples(templates[120:], somas[120:], positions, FS, feature_config_of(model),
                                            config, seed=5)
    estimates, std = aggregate_locations(examples, *predict_examples(model, examples), positions)
    error = np.hypot(*(estimates[:, :2] - truth[:, :2]).T)
    assert np.mean(error) < 6.0, np.mean(error)
    # reproducible
    again = fit_simulated_localizer(
        templates[:120], somas[:120], positions, FS,
        FeatureConfig(half_width_um=30.0), ModelConfig(hidden_sizes=(64, 32)),
        TrainingConfig(epochs=12, batch_size=64, seed=0, max_spikes=20_000),
        SimulationConfig(spikes_per_template=60, noise_uv=(2.0, 8.0), calibration_fraction=0.2),
    )
    np.testing.assert_allclose(again.metadata["history"], model.metadata["history"], rtol=1e-6)


def test_bad_inputs_raise_clear_errors():
    templates, somas, positions = _toy_templates(3)
    with pytest.raises(ValueError, match="somas"):
        fit_simulated_localizer(templates, somas[:2], positions, FS)
    with pytest.raises(ValueError, match="channels"):
        fit_simulated_localizer(templates, somas, positions[:5], FS)
    with pytest.raises(ValueError, match="noise_uv"):
        SimulationConfig(noise_uv=(10.0, 5.0))


def test_simulation_ranges_are_checked_and_stored_as_float_pairs():
    config = SimulationConfig(noise_uv=[5, 10])
    assert config.noise_uv == (5.0, 10.0) and isinstance(config.noise_uv[0], float)
    for bad in ((10.0, 5.0), (-1.0, 5.0), (1.0, 2.0, 3.0)):
        with pytest.raises(ValueError, match="noise_uv must be a \\(low, high\\) pair"):
            SimulationConfig(noise_uv=bad)
