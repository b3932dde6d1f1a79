"""Simulation-trained localizers: supervised training on spikes synthesized from templates with known somas.

An unsupervised localizer explains a spike's amplitudes with a point source, and on real
(biophysical) neurons the point that best explains the amplitudes is not the soma: dendrites and
the axon move it (a bias per unit of ~10 um on MEArec cells, see
:mod:`si_amortized.evaluation.point_source_fit`). A localizer trained on spikes made from
simulated templates whose somas are known learns where the soma lies given the whole amplitude
and waveform pattern, noise included. The encoder is the same as the VAE's; its loss is the
Gaussian negative log-likelihood of the true soma under the encoder's posterior, which also makes
the reported standard deviations calibrated on data like the training data.

The spikes are the templates (randomly scaled) plus band-passed Gaussian noise at random levels,
with a second template overlapping some of them, cut with the same feature extraction as real
spikes (peak channel, neighbourhood, amplitude jitter).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np

from .._ranges import store_ranges
from ..datasets.filtering import MEAREC_BAND_HZ, band_pass_templates, band_passed_noise
from .config import FeatureConfig, ModelConfig, TrainingConfig
from .calibration import calibration_scale, posterior_coverage
from .fit import aggregate_locations, build_localizer, predict_examples, train_localizer_supervised
from .model import VaeLocalizer
from .neighbourhood import (
    Neighbourhood,
    SpikeExamples,
    channel_neighbours_mask,
    compute_examples,
    neighbourhood_from_config,
    waveform_samples,
)

__all__ = [
    "SimulationConfig",
    "synthesize_spikes",
    "simulated_examples",
    "fit_simulated_localizer",
    "calibrate_on_templates",
    "band_pass_templates",
]


@dataclass(frozen=True, kw_only=True)
class SimulationConfig:
    """How training spikes are synthesized from templates.

    Parameters
    ----------
    spikes_per_template : int, default: 100
        Synthetic spikes drawn per template (each with its own scale, noise and overlap).
    noise_uv : tuple of float, default: (5.0, 30.0)
        Range (uniform) of the noise standard deviation of each spike, microvolts, after band-pass.
    amplitude_scale : tuple of float, default: (0.8, 1.2)
        Range (uniform) of the factor each template is multiplied by.
    overlap_probability : float, default: 0.3
        Share of spikes with a second, randomly chosen template added within ``overlap_ms``.
    overlap_ms : float, default: 1.0
        Largest time shift of the overlapping template.
    bandpass_hz : tuple of float, default: (300.0, 6000.0)
        Band of the 3rd-order Butterworth filter applied to the noise (MEArec's default band).
    calibration_fraction : float, default: 0.15
        Share of the templates held out of training; the posterior's standard deviations are scaled
        (per axis) so that 68.3 % of the held-out spikes' somas lie within one of them.
    """

    spikes_per_template: int = 100
    noise_uv: tuple = (5.0, 30.0)
    amplitude_scale: tuple = (0.8, 1.2)
    overlap_probability: float = 0.3
    overlap_ms: float = 1.0
    bandpass_hz: tuple = MEAREC_BAND_HZ
    calibration_fraction: float = 0.15

    def __post_init__(self):
        store_ranges(self, ("noise_uv", "amplitude_scale", "bandpass_hz"), cast=float)
        if self.spikes_per_template < 1:
            raise ValueError("spikes_per_template must be >= 1")
        if not 0.0 <= self.overlap_probability <= 1.0:
            raise ValueError("overlap_probability must be in [0, 1]")
        if not 0.0 <= self.calibration_fraction < 1.0:
            raise ValueError("calibration_fraction must be in [0, 1)")


def synthesize_spikes(
    templates: np.ndarray,
    somas: np.ndarray,
    sampling_frequency: float,
    config: SimulationConfig,
    seed: int = 0,
    template_index: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Traces holding one synthetic spike per window, with its soma.

    Parameters
    ----------
    templates : np.ndarray, shape (num_templates, num_samples, num_channels)
        Noise-free templates in microvolts (main peak negative), at ``sampling_frequency``.
    somas : np.ndarray, shape (num_templates, 3)
        Soma of each template: x, y in the probe plane, z the distance from it (um).
    sampling_frequency : float
    config : SimulationConfig
    seed : int, default: 0
    template_index : np.ndarray | None, default: None
        Template of each spike to make; None: ``config.spikes_per_template`` of each, shuffled.

    Returns
    -------
    traces : np.ndarray, shape (num_spikes * window, num_channels)
        float32, microvolts.
    sample_index : np.ndarray, shape (num_spikes,)
        Trough sample of each spike's template in ``traces``.
    channel_index : np.ndarray, shape (num_spikes,)
        Peak channel of each spike's template.
    soma : np.ndarray, shape (num_spikes, 3)
    """
    templates = np.asarray(templates, dtype="float32")
    num_templates, window, num_channels = templates.shape
    rng = np.random.default_rng(seed)
    if template_index is None:
        template_index = np.repeat(np.arange(num_templates), config.spikes_per_template)
        rng.shuffle(template_index)
    template_index = np.asarray(template_index, dtype=np.int64)
    n = template_index.size
    trough = np.argmin(templates.min(axis=2), axis=1)
    peak_channel = np.argmin(templates.min(axis=1), axis=1)
    scale = rng.uniform(*config.amplitude_scale, size=n).astype("float32")
    traces = (templates[template_index] * scale[:, None, None]).reshape(n * window, num_channels)
    # a second template, shifted by up to overlap_ms, on some spikes
    overlapping = np.flatnonzero(rng.random(n) < config.overlap_probability)
    max_shift = max(int(round(config.overlap_ms * sampling_frequency / 1000.0)), 1)
    if overlapping.size:
        other = rng.integers(0, num_templates, overlapping.size)
        shift = rng.integers(-max_shift, max_shift + 1, overlapping.size)
        other_scale = rng.uniform(*config.amplitude_scale, size=overlapping.size).astype("float32")
        view = traces.reshape(n, window, num_channels)
        for s, o, d, k in zip(overlapping, other, shift, other_scale):
            shifted = np.roll(templates[o], d, axis=0)
            if d > 0:
                shifted[:d] = 0.0
            elif d < 0:
                shifted[d:] = 0.0
            view[s] += k * shifted
    noise_level = rng.uniform(*config.noise_uv, size=n).astype("float32")
    noise = band_passed_noise(rng, n * window, num_channels, sampling_frequency, config.bandpass_hz)
    traces += noise * np.repeat(noise_level, window)[:, None]
    sample_index = np.arange(n) * window + trough[template_index]
    return traces, sample_index.astype(np.int64), peak_channel[template_index].astype(np.int64), somas[template_index]


def simulated_examples(
    templates: np.ndarray,
    somas: np.ndarray,
    channel_locations: np.ndarray,
    sampling_frequency: float,
    feature_config: FeatureConfig,
    simulation_config: SimulationConfig,
    neighbourhood: Neighbourhood | None = None,
    seed: int = 0,
    batch_spikes: int = 2000,
) -> tuple[SpikeExamples, np.ndarray, np.ndarray]:
    """Localizer examples of synthetic spikes and the soma of each example, relative to its centre channel.

    Parameters
    ----------
    templates : np.ndarray, shape (num_templates, num_samples, num_channels)
    somas : np.ndarray, shape (num_templates, 3)
    channel_locations : np.ndarray, shape (num_channels, 2)
    sampling_frequency : float
    feature_config : FeatureConfig
    simulation_config : SimulationConfig
    neighbourhood : Neighbourhood | None, default: None
    seed : int, default: 0
    batch_spikes : int, default: 2000
        Spikes synthesized at once (memory: ``batch_spikes * num_samples * num_channels`` floats).

    Returns
    -------
    examples : SpikeExamples
    targets : np.ndarray, shape (num_examples, 3)
        Soma x, y minus the example's centre channel, and the soma's distance from the plane.
    somas : np.ndarray, shape (num_spikes, 3)
        Soma of each synthetic spike (absolute).
    """
    locations = np.asarray(channel_locations, dtype="float64")[:, :2]
    if neighbourhood is None:
        neighbourhood = neighbourhood_from_config(locations, feature_config)
    candidates = channel_neighbours_mask(locations, feature_config.peak_radius_um)
    rng = np.random.default_rng(seed)
    template_index = np.repeat(np.arange(len(templates)), simulation_config.spikes_per_template)
    rng.shuffle(template_index)
    batch_seeds = np.random.SeedSequence(seed).spawn(max(-(-template_index.size // batch_spikes), 1))
    parts, spike_somas = [], []
    for b, start in enumerate(range(0, template_index.size, batch_spikes)):
        traces, sample_index, channel_index, soma = synthesize_spikes(
            templates, somas, sampling_frequency, simulation_config, seed=batch_seeds[b],
            template_index=template_index[start : start + batch_spikes],
        )
        parts.append(compute_examples(
            traces, sample_index, channel_index, neighbourhood, candidates, feature_config, sampling_frequency
        ))
        spike_somas.append(np.asarray(soma, dtype="float64"))
    examples = SpikeExamples.concatenate(parts)
    soma = np.concatenate(spike_somas)
    targets = soma[examples.spike_index].copy()
    targets[:, :2] -= locations[examples.centre_channel]
    return examples, targets.astype("float32"), soma


def fit_simulated_localizer(
    templates: np.ndarray,
    somas: np.ndarray,
    channel_locations: np.ndarray,
    sampling_frequency: float,
    feature_config: FeatureConfig | None = None,
    model_config: ModelConfig | None = None,
    training_config: TrainingConfig | None = None,
    simulation_config: SimulationConfig | None = None,
    groups: np.ndarray | None = None,
    description: dict | None = None,
    verbose: bool = False,
) -> VaeLocalizer:
    """Train a localizer, supervised, on spikes synthesized from templates with known somas.

    Parameters
    ----------
    templates : np.ndarray, shape (num_templates, num_samples, num_channels)
        Noise-free templates (microvolts) at ``sampling_frequency``, e.g. MEArec templates.
    somas : np.ndarray, shape (num_templates, 3)
        x, y in the probe plane, z the distance from it (um): SpikeInterface axes.
    channel_locations : np.ndarray, shape (num_channels, 2)
    sampling_frequency : float
    feature_config, model_config, training_config, simulation_config : configs, default: defaults
        ``training_config.max_spikes`` caps the synthetic spikes (a random subset of templates x repeats).
    groups : np.ndarray | None, default: None
        Shank of each channel (neighbourhoods never cross shanks).
    description : dict | None, default: None
        Plain data about the training corpus, stored in ``model.metadata["training_corpus"]``.
    verbose : bool, default: False

    Returns
    -------
    VaeLocalizer
        On the CPU, in eval mode; ``metadata["training"] == "simulated"``.
    """
    feature_config = feature_config or FeatureConfig()
    model_config = model_config or ModelConfig()
    training_config = training_config or TrainingConfig()
    simulation_config = simulation_config or SimulationConfig()
    templates = np.asarray(templates, dtype="float32")
    somas = np.asarray(somas, dtype="float64")
    if templates.ndim != 3 or somas.shape != (templates.shape[0], 3):
        raise ValueError(
            f"templates must be (num_templates, num_samples, num_channels) and somas (num_templates, 3); "
            f"got {templates.shape} and {somas.shape}"
        )
    locations = np.asarray(channel_locations, dtype="float64")[:, :2]
    if templates.shape[2] != locations.shape[0]:
        raise ValueError(f"templates have {templates.shape[2]} channels but the probe has {locations.shape[0]}")
    per_template = min(simulation_config.spikes_per_template,
                       max(training_config.max_spikes // templates.shape[0], 1))
    simulation_config = dataclasses.replace(simulation_config, spikes_per_template=per_template)
    neighbourhood = neighbourhood_from_config(locations, feature_config, groups=groups)
    rng = np.random.default_rng(training_config.seed)
    order = rng.permutation(templates.shape[0])
    num_held_out = int(round(simulation_config.calibration_fraction * templates.shape[0]))
    if simulation_config.calibration_fraction > 0 and templates.shape[0] - num_held_out < 1:
        raise ValueError("Too few templates to hold some out for calibration; use calibration_fraction=0")
    held_out, train = np.sort(order[:num_held_out]), np.sort(order[num_held_out:])
    examples, targets, _ = simulated_examples(
        templates[train], somas[train], locations, sampling_frequency, feature_config, simulation_config,
        neighbourhood=neighbourhood, seed=training_config.seed,
    )
    model = build_localizer(
        neighbourhood, sum(waveform_samples(feature_config, sampling_frequency)), feature_config, model_config,
        sampling_frequency,
    )
    history = train_localizer_supervised(model, examples, targets, model_config, training_config, verbose=verbose)
    calibration = {}
    if held_out.size:
        calibration = calibrate_on_templates(
            model, templates[held_out], somas[held_out], locations, sampling_frequency, feature_config,
            simulation_config, neighbourhood, seed=training_config.seed + 1,
        )
    model.metadata.update(
        training="simulated",
        history=[float(h) for h in history],
        num_training_spikes=int(examples.valid.size),
        num_training_examples=int(examples.waveforms.shape[0]),
        simulation_config=dataclasses.asdict(simulation_config),
        training_corpus=dict(description or {}, num_templates=int(templates.shape[0]),
                             num_calibration_templates=int(held_out.size)),
        calibration=calibration,
    )
    return model


def calibrate_on_templates(
    model: VaeLocalizer,
    templates: np.ndarray,
    somas: np.ndarray,
    channel_locations: np.ndarray,
    sampling_frequency: float,
    feature_config: FeatureConfig,
    simulation_config: SimulationConfig,
    neighbourhood: Neighbourhood,
    seed: int = 1,
) -> dict:
    """Scale the posterior standard deviations so that held-out templates' spikes are covered at 68.3 %.

    Sets ``model.posterior_std_scale`` (per axis) and returns the coverage (1 and 2 standard
    deviations, per axis) before and after, and the errors, on the held-out spikes.
    """
    import torch

    examples, _, truth = simulated_examples(
        templates, somas, channel_locations, sampling_frequency, feature_config, simulation_config,
        neighbourhood=neighbourhood, seed=seed,
    )
    with torch.no_grad():
        model.posterior_std_scale.fill_(1.0)
        model.posterior_std_floor.fill_(0.0)
    mean, var = predict_examples(model, examples)
    estimates, std = aggregate_locations(examples, mean, var, channel_locations)
    before = posterior_coverage(estimates, std, truth)
    scale = calibration_scale(estimates, std, truth)
    scale[model.free_axes.cpu().numpy() == 0] = 1.0
    with torch.no_grad():
        model.posterior_std_scale.copy_(torch.as_tensor(scale, dtype=torch.float32))
    after = posterior_coverage(estimates, std * scale, truth)
    error_2d = np.hypot(*(estimates[:, :2] - truth[:, :2]).T)
    return dict(
        num_spikes=int(truth.shape[0]),
        std_scale=[float(v) for v in scale],
        coverage_before=before.tolist(),
        coverage_after=after.tolist(),
        mean_error_2d_um=float(np.nanmean(error_2d)),
        mean_abs_z_error_um=float(np.nanmean(np.abs(estimates[:, 2] - truth[:, 2]))),
    )
