"""VAE spike localization (Hurwitz et al., NeurIPS 2019) for SpikeInterface.

Naming: ``fit_*`` is an entry point (from a recording, or from simulated templates), ``train_*`` the
optimisation loop on prepared examples.

Importing this module registers the ``vae_locations`` SortingAnalyzer extension and the ``"vae"``
method of ``localize_peaks`` / ``spike_locations``.
"""

from .config import FeatureConfig, ModelConfig, TrainingConfig
from .extraction import check_layout, examples_from_recording, fit_localizer_on_recording
from .calibration import calibration_scale, posterior_coverage
from .fit import (
    aggregate_locations,
    load_localizer,
    predict_examples,
    save_localizer,
    train_localizer,
    train_localizer_supervised,
)
from .loss import gaussian_kl_to_prior, gaussian_location_nll, masked_squared_error, negative_elbo
from .model import AMPLITUDE_MODELS, LocationEncoder, VaeLocalizer, exponential_decay_amplitudes
from .neighbourhood import Neighbourhood, SpikeExamples, build_neighbourhood, compute_examples
from .nodes import LocalizeVae, register_vae_localization_method, vae_location_dtype
from .prepare import PreparedLocalizer, prepare_localizer
from .pretrained import pretrained_files, pretrained_localizer
from .simulated_training import SimulationConfig, band_pass_templates, fit_simulated_localizer
from .extension import ComputeVaeLocations, compute_vae_locations

register_vae_localization_method()

__all__ = [
    "ComputeVaeLocations",
    "compute_vae_locations",
    "LocalizeVae",
    "PreparedLocalizer",
    "prepare_localizer",
    "VaeLocalizer",
    "LocationEncoder",
    "FeatureConfig",
    "ModelConfig",
    "TrainingConfig",
    "Neighbourhood",
    "SpikeExamples",
    "build_neighbourhood",
    "compute_examples",
    "examples_from_recording",
    "fit_localizer_on_recording",
    "train_localizer",
    "train_localizer_supervised",
    "fit_simulated_localizer",
    "SimulationConfig",
    "band_pass_templates",
    "pretrained_files",
    "pretrained_localizer",
    "posterior_coverage",
    "calibration_scale",
    "gaussian_location_nll",
    "AMPLITUDE_MODELS",
    "predict_examples",
    "aggregate_locations",
    "save_localizer",
    "load_localizer",
    "check_layout",
    "exponential_decay_amplitudes",
    "masked_squared_error",
    "gaussian_kl_to_prior",
    "negative_elbo",
    "vae_location_dtype",
    "register_vae_localization_method",
]
