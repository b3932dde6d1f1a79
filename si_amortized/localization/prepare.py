"""A localizer prepared once for a recording: the settings resolved, the model trained or checked, the layout built.

Every path that localizes (the ``vae_locations`` extension, the ``"vae"`` method of ``localize_peaks`` /
``spike_locations``, the benchmarks) goes through :func:`prepare_localizer`, so the settings are split into
configs once, the "given model vs your settings" check exists once, and the neighbourhood of the
recording's layout is built once and handed to the pipeline node.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, fields

import numpy as np

from .config import INFERENCE_FIELDS, FeatureConfig, split_config_kwargs
from .extraction import check_layout, fit_localizer_on_recording, recording_layout, recording_noise_uv
from .fit import load_localizer
from .model import VaeLocalizer
from .neighbourhood import Neighbourhood, compute_examples, margin_samples
from .pretrained import PRETRAINED_NAME, pretrained_localizer, resolve_auto
from .training_peaks import DetectorTrainingSpikes

__all__ = ["PreparedLocalizer", "prepare_localizer", "feature_config_of", "check_given_settings"]


def feature_config_of(model: VaeLocalizer) -> FeatureConfig:
    """The :class:`FeatureConfig` a trained localizer was made with."""
    return FeatureConfig(**model.metadata["feature_config"])


@dataclass(frozen=True)
class PreparedLocalizer:
    """A trained localizer and what inference on one recording needs.

    Parameters
    ----------
    model : VaeLocalizer
        Trained, on the CPU, in eval mode.
    config : FeatureConfig
        The model's feature config with the inference settings given now (``INFERENCE_FIELDS``).
    neighbourhood : Neighbourhood
        The recording's neighbourhoods (checked to match the model's layout).
    candidates : np.ndarray, shape (num_channels, num_channels)
        Peak-channel search mask (channels of the same shank within ``config.peak_radius_um``).
    device : str | None
        Inference device request (None: CPU, "auto": CUDA when present).
    noise_uv : float | None
        The recording's noise level (uV), which the refinement's likelihood needs (``config.refine_steps > 0``).
    """

    model: VaeLocalizer
    config: FeatureConfig
    neighbourhood: Neighbourhood
    candidates: np.ndarray
    device: str | None = None
    noise_uv: float | None = None


def check_given_settings(model: VaeLocalizer, settings: dict) -> FeatureConfig:
    """The model's feature config with the inference settings of ``settings``; other differences raise.

    Parameters
    ----------
    model : VaeLocalizer
    settings : dict
        Localization settings given beside the model (feature settings and others; only the feature settings
        are checked).

    Returns
    -------
    FeatureConfig
        What the model was trained with, its inference fields (``INFERENCE_FIELDS``) replaced by ``settings``'.

    Raises
    ------
    ValueError
        A feature setting that is not an inference setting differs from the model's.
    """
    trained = feature_config_of(model)
    feature_names = {f.name for f in fields(FeatureConfig)}
    conflicts = sorted(
        k for k, v in settings.items()
        if k in feature_names and k not in INFERENCE_FIELDS and getattr(trained, k) != v
    )
    if conflicts:
        raise ValueError(
            f"Feature parameters {conflicts} differ from those the given model was trained with; "
            "leave them out when passing model=."
        )
    return dataclasses.replace(trained, **{k: settings[k] for k in INFERENCE_FIELDS if k in settings})


def prepare_localizer(
    recording, peaks: np.ndarray | None = None, model=None, verbose: bool = False, **settings
) -> PreparedLocalizer:
    """A trained localizer for ``recording``: ``model`` (checked against the layout) or one trained on ``peaks``.

    Parameters
    ----------
    recording : BaseRecording
    peaks : np.ndarray | DetectorTrainingSpikes | None, default: None
        Training spikes (``sample_index``, ``channel_index``, ``segment_index``), or the detector and chunks
        to find them in (their examples are then cut from the traces the detector reads); unused when
        ``model`` is given.
    model : VaeLocalizer | str | Path | None, default: None
        A trained localizer or a path to one (see :func:`si_amortized.localization.load_localizer`), or
        ``"pretrained"``: the shipped localizer fitting the recording's layout (no training); ``"auto"``: that
        one when it exists, else one trained on ``peaks``.
    verbose : bool, default: False
    **settings
        Fields of FeatureConfig, ModelConfig and TrainingConfig (unknown names raise a TypeError).

    Returns
    -------
    PreparedLocalizer
    """
    feature_config, model_config, training_config = split_config_kwargs(settings)
    model = resolve_auto(model, recording)
    if isinstance(model, str) and model == PRETRAINED_NAME:
        model = pretrained_localizer(recording)
    trained_here = model is None
    if model is not None:
        model = load_localizer(model)
        config = check_given_settings(model, settings)
        neighbourhood, candidates = recording_layout(recording, config)
        check_layout(model, recording, config, neighbourhood=neighbourhood)
    else:
        if peaks is None:
            raise ValueError("Training a VAE localizer needs the spikes (peaks) of the recording")
        config = feature_config
        neighbourhood, candidates = recording_layout(recording, config)
        examples = None
        if isinstance(peaks, DetectorTrainingSpikes):
            fs = recording.sampling_frequency

            def cut(traces, sample_index, channel_index):
                return compute_examples(traces, sample_index, channel_index, neighbourhood, candidates, config, fs)

            peaks, examples = peaks.examples(recording, cut, margin_samples(config, fs))
        model = fit_localizer_on_recording(
            recording, peaks, feature_config, model_config, training_config, verbose=verbose,
            neighbourhood=neighbourhood, examples=examples,
        )
    noise_uv = None
    if config.refine_steps:
        # a Gaussian-likelihood model trained just now measured it on this recording with this seed
        noise_uv = model.metadata.get("noise_uv") if trained_here else None
        if noise_uv is None:
            noise_uv = recording_noise_uv(recording, seed=training_config.seed)
    return PreparedLocalizer(model, config, neighbourhood, candidates, training_config.device, noise_uv)
