"""Settings of the VAE localizer: validation, deprecated names."""

import pytest

from si_amortized.localization import ModelConfig
from si_amortized.localization.config import PAPER_SETTINGS, split_config_kwargs


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(amplitude_model="quadrupole"), "amplitude_model"),
        (dict(amplitude_fit="exact"), "amplitude_fit"),
        (dict(amplitude_model="dipole", amplitude_fit="per_example"), "one-coefficient"),
        (dict(likelihood="poisson"), "likelihood"),
        (dict(amplitude_noise_fraction=-0.1), "amplitude_noise_fraction"),
        (dict(learn_decay_length=True, amplitude_model="monopole"), "learn_decay_length"),
    ],
)
def test_bad_model_settings_raise_with_the_setting_named(bad, match):
    with pytest.raises(ValueError, match=match):
        ModelConfig(**bad)


def test_paper_settings_build_valid_configs():
    feature, model, training = split_config_kwargs(PAPER_SETTINGS)
    assert feature.half_width_um == 20.0 and model.amplitude_fit == "per_example"
    assert model.amplitude_model == "exponential" and model.hidden_sizes == (500, 250)


def test_deprecated_learning_rate_names_warn_and_still_work():
    with pytest.warns(DeprecationWarning, match="learning_rate"):
        _, _, training = split_config_kwargs(dict(lr=3e-4, amplitude_lr=5e-3))
    assert training.learning_rate == 3e-4 and training.amplitude_learning_rate == 5e-3
    with pytest.raises(TypeError, match="both"):
        split_config_kwargs(dict(lr=3e-4, learning_rate=1e-3))
