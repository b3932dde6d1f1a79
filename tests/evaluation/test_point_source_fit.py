"""The point-source floor: least-squares fits recover sources simulated from the same model."""

import numpy as np
import pytest

from si_amortized.evaluation.point_source_fit import fit_template_sources, point_source_amplitudes


def square_grid(n=10, pitch=15.0):
    g = (np.arange(n) - (n - 1) / 2) * pitch
    return np.stack(np.meshgrid(g, g, indexing="ij"), axis=-1).reshape(-1, 2)


def templates_from_sources(sources, log_a, channels, model, num_samples=40):
    """Templates whose negative peak on each channel is the model's amplitude (a Gaussian trough)."""
    shape = np.exp(-0.5 * ((np.arange(num_samples) - 15) / 2.0) ** 2)  # peak 1 at sample 15
    amps = np.stack([point_source_amplitudes(s, a, channels, model) for s, a in zip(sources, log_a)])
    return -shape[None, :, None] * amps[:, None, :]


@pytest.mark.parametrize("model", ["exponential", "inverse_distance"])
@pytest.mark.parametrize("half_width_um", [20.0, 35.0])
def test_fit_recovers_sources_of_its_own_model(model, half_width_um):
    channels = square_grid()
    sources = np.array([[3.0, -4.0, 12.0], [-40.0, 22.0, 30.0], [60.0, 60.0, 20.0], [-20.0, 5.0, 45.0]])
    log_a = np.log([300.0, 500.0, 200.0, 900.0]) + (np.log(20.0) if model == "inverse_distance" else 0.0)
    templates = templates_from_sources(sources, log_a, channels, model)
    fitted = fit_template_sources(templates, channels, half_width_um=half_width_um, model=model)
    np.testing.assert_allclose(fitted, sources, atol=0.05)


def test_model_mismatch_moves_the_fit_and_exponential_amplitudes_decay():
    channels = square_grid()
    source = np.array([10.0, 10.0, 25.0])
    amps = point_source_amplitudes(source, np.log(400.0), channels, "exponential", decay_length_um=28.0)
    r = np.sqrt(((channels - source[:2]) ** 2).sum(1) + source[2] ** 2)
    np.testing.assert_allclose(amps, 400.0 * np.exp(-r / 28.0))
    # a source off the array seen only through its near edge: the fit stays within the bounds
    far = templates_from_sources(np.array([[120.0, 0.0, 20.0]]), [np.log(3000.0)], channels, "inverse_distance")
    fitted = fit_template_sources(far, channels, model="exponential", max_offset_um=100.0)
    assert np.all(np.abs(fitted[0, :2] - channels[np.argmax(-far[0].min(axis=0))]) <= 100.0 + 1e-6)
    assert 0.0 <= fitted[0, 2] <= 100.0


def test_bad_input():
    channels = square_grid(3)
    with pytest.raises(ValueError, match="templates must have shape"):
        fit_template_sources(np.zeros((2, 30, 5)), channels)
    with pytest.raises(ValueError, match="model must be one of"):
        point_source_amplitudes(np.zeros(3), 0.0, channels, model="dipole")
    # a template without a negative peak cannot be localized: NaN, the others are still fitted
    templates = templates_from_sources(np.array([[0.0, 0.0, 15.0]]), [np.log(300.0)], channels, "exponential")
    templates = np.concatenate([templates, np.abs(templates)])
    fitted = fit_template_sources(templates, channels)
    assert np.all(np.isfinite(fitted[0])) and np.all(np.isnan(fitted[1]))
