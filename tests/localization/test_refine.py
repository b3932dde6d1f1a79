"""The refinement of the encoder's locations: the posterior mode under the decoder, checked against known sources
and a naive per-example optimiser."""

import numpy as np
import pytest
import torch
from scipy.optimize import least_squares

from si_amortized.localization.model import VaeLocalizer, amplitude_weights
from si_amortized.localization.refine import log_posterior_residuals, refine_locations


def _offsets(step=15.0, n=5):
    axis = (np.arange(n) - n // 2) * step
    return np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2)


def _model(amplitude_model="exponential", free=(1.0, 1.0, 1.0), offsets=None):
    offsets = _offsets() if offsets is None else offsets
    model = VaeLocalizer(offsets, 8, np.asarray(free), hidden_sizes=(8,), amplitude_model=amplitude_model,
                         metadata={"feature_config": {}})
    model.eval()
    return model.double()


def _sources(n, seed):
    rng = np.random.default_rng(seed)
    xy = rng.uniform(-20.0, 20.0, (n, 2))
    z = rng.uniform(8.0, 40.0, (n, 1))
    return torch.tensor(np.concatenate([xy, z], 1))


def _amplitudes(model, sources, scale=None):
    """Noise-free amplitudes of each source under the model's amplitude model (single coefficient: the scale)."""
    basis = model.basis(sources)
    scale = torch.full((sources.shape[0], basis.shape[2]), 1.0, dtype=sources.dtype) if scale is None else scale
    return (basis * scale[:, None, :]).sum(2)


@pytest.mark.parametrize("amplitude_model, scale", [("exponential", 400.0), ("monopole", 6000.0)])
def test_refinement_recovers_known_sources_from_a_perturbed_start(amplitude_model, scale):
    model = _model(amplitude_model)
    truth = _sources(40, seed=1)
    amplitudes = _amplitudes(model, truth, torch.full((40, 1), scale, dtype=torch.float64))
    observed = torch.ones_like(amplitudes)
    start = truth + torch.tensor(np.random.default_rng(2).normal(0.0, 6.0, truth.shape))
    start[:, 2] = start[:, 2].abs()
    # (almost) noise-free: the likelihood dominates a wide prior, so the mode is the source
    refined = refine_locations(model, amplitudes, observed, start, steps=30, noise_uv=1e-3, noise_fraction=0.0,
                               prior_std_um=1e4)
    error = (refined - truth).abs()
    error[:, 2] = (refined[:, 2].abs() - truth[:, 2]).abs()  # the decoder sees |z|
    assert float(error.max()) < 0.05, float(error.max())
    assert float((start - truth).abs().max()) > 5.0  # the start was far


def test_refinement_never_raises_the_energy_and_reaches_a_naive_optimiser():
    model = _model("exponential")
    truth = _sources(25, seed=3)
    rng = np.random.default_rng(4)
    amplitudes = _amplitudes(model, truth, torch.full((25, 1), 150.0, dtype=torch.float64))
    amplitudes = (amplitudes + torch.tensor(rng.normal(0.0, 6.0, amplitudes.shape))).clamp_min(0.0)
    observed = torch.ones_like(amplitudes)
    observed[:5, :5] = 0.0  # a virtual edge on some examples
    start = truth + torch.tensor(rng.normal(0.0, 4.0, truth.shape))
    noise, fraction, prior = 6.0, 0.1, 80.0
    weights = amplitude_weights(amplitudes, observed, noise, fraction)

    def energy(s):
        return (log_posterior_residuals(model, s, amplitudes, weights, prior) ** 2).sum(1)

    refined = refine_locations(model, amplitudes, observed, start, 40, noise, fraction, prior)
    refined_energy = energy(refined)
    assert bool((refined_energy <= energy(start) + 1e-9).all())
    for i in range(truth.shape[0]):  # each example alone, by scipy, from the same start
        def residual(s, i=i):
            s = torch.tensor(s[None])
            return log_posterior_residuals(model, s, amplitudes[i:i + 1], weights[i:i + 1], prior)[0].numpy()

        naive = least_squares(residual, start[i].numpy(), method="lm", xtol=1e-12, ftol=1e-12)
        assert float(refined_energy[i]) <= 2 * naive.cost * (1 + 1e-5) + 1e-6  # scipy: half the squared norm
        np.testing.assert_allclose(refined[i, :2].numpy(), naive.x[:2], atol=0.05)
        np.testing.assert_allclose(abs(float(refined[i, 2])), abs(naive.x[2]), atol=0.05)


def test_energy_is_the_gaussian_negative_log_posterior():
    model = _model("monopole")
    s = _sources(3, seed=5)
    amplitudes = _amplitudes(model, _sources(3, seed=6), torch.full((3, 1), 5000.0, dtype=torch.float64))
    observed = torch.ones_like(amplitudes)
    observed[0, 3] = 0.0
    weights = amplitude_weights(amplitudes, observed, 5.0, 0.1)
    got = (log_posterior_residuals(model, s, amplitudes, weights, 80.0) ** 2).sum(1)
    predicted = model.decode(s, amplitudes=amplitudes, weights=weights)
    naive = torch.zeros(3, dtype=torch.float64)
    for n in range(3):
        for k in range(amplitudes.shape[1]):
            naive[n] += 0.5 * float(weights[n, k]) * float(amplitudes[n, k] - predicted[n, k]) ** 2
        naive[n] += sum(float(v) ** 2 for v in s[n]) / (2 * 80.0**2)
    torch.testing.assert_close(got, naive)


def test_zero_steps_and_fixed_axes():
    offsets = np.stack([np.zeros(5), np.arange(5) * 20.0 - 40.0], 1)  # one column: x is not identifiable
    model = _model("exponential", free=(0.0, 1.0, 1.0), offsets=offsets)
    truth = _sources(10, seed=7)
    truth[:, 0] = 0.0
    amplitudes = _amplitudes(model, truth, torch.full((10, 1), 300.0, dtype=torch.float64))
    start = truth + 3.0
    same = refine_locations(model, amplitudes, torch.ones_like(amplitudes), start, 0, 5.0)
    torch.testing.assert_close(same, start)
    refined = refine_locations(model, amplitudes, torch.ones_like(amplitudes), start, 10, 5.0)
    torch.testing.assert_close(refined[:, 0], start[:, 0])  # the fixed axis stays
    assert float((refined[:, 1] - truth[:, 1]).abs().mean()) < float((start[:, 1] - truth[:, 1]).abs().mean())


def test_bad_noise_level_or_steps_raise():
    model = _model()
    a = torch.ones((2, 25), dtype=torch.float64)
    with pytest.raises(ValueError, match="noise level"):
        refine_locations(model, a, a, torch.zeros((2, 3), dtype=torch.float64), 3, float("nan"))
    with pytest.raises(ValueError, match="noise level"):
        refine_locations(model, a, a, torch.zeros((2, 3), dtype=torch.float64), 3, None)
    with pytest.raises(ValueError, match="steps"):
        refine_locations(model, a, a, torch.zeros((2, 3), dtype=torch.float64), -1, 5.0)


def test_refinement_under_another_amplitude_model_recovers_its_sources():
    """A model trained with one amplitude model refines under another: sources made by a monopole plus dipole
    are recovered with ``amplitude_model="dipole"`` (and not under the model's own exponential decay)."""
    from si_amortized.localization.refine import amplitude_decoder

    model = _model("exponential")
    dipole = _model("dipole")
    truth = _sources(40, seed=5)
    rng = np.random.default_rng(6)
    moments = np.concatenate([np.full((40, 1), 6000.0), rng.normal(0.0, 1.5e4, (40, 3))], axis=1)
    amplitudes = _amplitudes(dipole, truth, torch.tensor(moments))
    keep = (amplitudes > 0).all(dim=1)  # amplitudes are negative-peak sizes: sources whose field stays positive
    truth, amplitudes = truth[keep], amplitudes[keep]
    assert truth.shape[0] >= 10
    observed = torch.ones_like(amplitudes)
    start = truth + torch.tensor(rng.normal(0.0, 4.0, truth.shape))
    start[:, 2] = start[:, 2].abs()
    settings = dict(steps=40, noise_uv=1e-3, noise_fraction=0.0, prior_std_um=1e4)
    refined = refine_locations(model, amplitudes, observed, start, amplitude_model="dipole", **settings)
    own = refine_locations(model, amplitudes, observed, start, **settings)
    error = (refined - truth).norm(dim=1)
    assert float(error.median()) < 0.5, float(error.median())
    assert float((own - truth).norm(dim=1).median()) > 2 * float(error.median())
    # the decoder is the dipole model's least-squares fit, on the model's own slots
    decode = amplitude_decoder(model, "dipole")
    weights = torch.ones_like(amplitudes)
    fitted = decode(truth, amplitudes=amplitudes, weights=weights)  # exact but for the solve's small ridge
    torch.testing.assert_close(fitted, amplitudes, rtol=1e-4, atol=0.1)
    assert amplitude_decoder(model, None) == model.decode and amplitude_decoder(model, "exponential") == model.decode
    with pytest.raises(ValueError, match="learned"):
        amplitude_decoder(model, "learned")
    with pytest.raises(ValueError, match="one of"):
        amplitude_decoder(model, "quadrupole")


def test_refine_amplitude_model_is_an_inference_setting():
    from si_amortized.localization.config import INFERENCE_FIELDS, FeatureConfig

    assert "refine_amplitude_model" in INFERENCE_FIELDS
    assert FeatureConfig(refine_amplitude_model="dipole").refine_amplitude_model == "dipole"
    with pytest.raises(ValueError, match="refine_amplitude_model"):
        FeatureConfig(refine_amplitude_model="dipol")
