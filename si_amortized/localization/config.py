"""Frozen configurations of the VAE localizer (stored with ``dataclasses.asdict`` in extension params)."""

from __future__ import annotations

from dataclasses import dataclass, fields


@dataclass(frozen=True, kw_only=True)
class FeatureConfig:
    """How one spike becomes the localizer's input.

    Parameters
    ----------
    half_width_um : float, default: 40.0
        Half-width (``shape="square"``) or radius (``shape="disk"``) of the neighbourhood around the
        peak channel, in micrometres. 40 um gives 5 x 5 channels on a 15 um square MEA and 4 columns x
        5 rows on Neuropixels 1.0; 20 um gives the paper's 3 x 3. With the closed-form amplitude the
        wider window is more accurate on MEArec (mean 2D error 13.9 vs 14.4 um) and it is what motion
        estimation on Neuropixels needs (drift RMS 2.8 vs 17.8 um).
    shape : "square" | "disk", default: "square"
        Shape of the neighbourhood.
    ms_before : float, default: 1.0
        Waveform window before the spike's trough, in ms.
    ms_after : float, default: 1.0
        Waveform window after the spike's trough, in ms.
    peak_sign : "neg" | "pos" | "both", default: "neg"
        Polarity of the spikes. With "both", a spike whose largest deflection is positive is
        flipped so that its main peak is negative before localization.
    peak_search_samples : int, default: 1
        The peak channel (and the trough sample) is searched within +- this many samples of the
        spike time. Keeping it small stops an overlapping spike of another unit from stealing
        the peak channel.
    peak_radius_um : float, default: 50.0
        The peak channel is searched among channels within this distance of the given channel
        (detected channel or template main channel).
    amplitude_window_samples : int, default: 2
        Amplitude of a channel = negative peak within +- this many samples of the trough sample.
    amp_jitter_uv : float, default: 10.0
        Amplitude jitter: every observed channel of the neighbourhood whose amplitude lies within
        this many microvolts of the largest one becomes the centre of an extra example, and the
        estimates of one spike are averaged. 0 disables it.
    max_jitter_examples : int, default: 2
        At most this many examples per spike (the largest amplitudes first). 2 keeps inference
        within ~1.5 examples per spike; on MEArec data 4 was not more accurate.
    normalize_waveforms : bool, default: True
        Divide the encoder's input waveforms by the example's largest amplitude (the decoder
        still sees microvolts). Makes the encoder amplitude-invariant.
    offset_tolerance_um : float, default: 1.0
        Two channel offsets closer than this are the same neighbourhood slot.
    refine_steps : int, default: 0
        Damped Gauss-Newton steps taking each example's location from the encoder's mean towards its
        posterior mode under the model's amplitude model, Gaussian channel noise (the recording's) and
        the prior (:mod:`si_amortized.localization.refine`); 0: the encoder's estimate. Inference only.
    refine_amplitude_model : "exponential" | "monopole" | "dipole" | "learned" | None, default: None
        The amplitude model the refinement fits (its coefficients in closed form at each location), None:
        the model's own. ``"dipole"`` (a monopole plus a dipole moment) suits biophysical cells, whose
        fields are not point sources; ``"learned"`` needs a model trained with it. Inference only.
    """

    half_width_um: float = 40.0
    shape: str = "square"
    ms_before: float = 1.0
    ms_after: float = 1.0
    peak_sign: str = "neg"
    peak_search_samples: int = 1
    peak_radius_um: float = 50.0
    amplitude_window_samples: int = 2
    amp_jitter_uv: float = 10.0
    max_jitter_examples: int = 2
    normalize_waveforms: bool = True
    offset_tolerance_um: float = 1.0
    refine_steps: int = 0
    refine_amplitude_model: str | None = None

    def __post_init__(self):
        if self.shape not in ("square", "disk"):
            raise ValueError(f"shape must be 'square' or 'disk', not {self.shape!r}")
        if self.peak_sign not in ("neg", "pos", "both"):
            raise ValueError(f"peak_sign must be 'neg', 'pos' or 'both', not {self.peak_sign!r}")
        if self.half_width_um <= 0:
            raise ValueError("half_width_um must be positive")
        if self.ms_before <= 0 or self.ms_after <= 0:
            raise ValueError("ms_before and ms_after must be positive")
        if self.amp_jitter_uv < 0 or self.max_jitter_examples < 1:
            raise ValueError("amp_jitter_uv must be >= 0 and max_jitter_examples >= 1")
        if int(self.refine_steps) != self.refine_steps or self.refine_steps < 0:
            raise ValueError(f"refine_steps must be a non-negative integer, not {self.refine_steps!r}")
        from .model import AMPLITUDE_MODELS

        if self.refine_amplitude_model is not None and self.refine_amplitude_model not in AMPLITUDE_MODELS:
            raise ValueError(f"refine_amplitude_model must be None or one of {AMPLITUDE_MODELS}, "
                             f"not {self.refine_amplitude_model!r}")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Encoder and generative model.

    Parameters
    ----------
    hidden_sizes : tuple of int, default: (256, 128)
        Hidden layers of the encoder (Linear -> BatchNorm -> ReLU each). The paper's encoder is
        (500, 250) on raw waveforms (``temporal_components=0``); on 8 temporal components the smaller
        encoder is as accurate on MEArec data and ~5x faster.
    amplitude_model : "exponential" | "monopole" | "dipole" | "learned", default: "exponential"
        How a source's amplitude falls with distance: ``a * exp(-r / decay_length_um)`` (the paper),
        ``a / r`` (monopolar triangulation's), a monopole plus dipole, or a monotone profile learned
        with the encoder (see :mod:`si_amortized.localization.model`).
    amplitude_fit : "least_squares" | "per_example", default: "least_squares"
        How the source amplitude (and dipole moment) of an example is found while training: in closed
        form by weighted least squares given the location, or as a learned ``log a`` per training
        example (the paper; one-coefficient models only).
    likelihood : "squared_error" | "gaussian", default: "squared_error"
        ``"squared_error"``: the paper's sum of squared amplitude errors over observed channels.
        ``"gaussian"``: each channel's error is weighted by its inverse variance
        ``1 / (noise^2 + (amplitude_noise_fraction * amplitude)^2)`` (the noise measured on the
        recording), so that far, small channels inform without the large ones swamping them.
    amplitude_noise_fraction : float, default: 0.1
        Amplitude-dependent part of a channel's standard deviation for ``likelihood="gaussian"``.
    decay_length_um : float, default: 28.0
        Decay length of the exponential amplitude model (fixed, or the starting value when learned).
    learn_decay_length : bool, default: False
        Learn the exponential model's decay length on the recording, with the encoder.
    prior_std_um : float, default: 80.0
        Standard deviation of the N(0, prior_std_um^2) prior on each coordinate (relative to the
        centre channel).
    amplitude_init_factor : float, default: 2.0
        Per-example ``log a`` starts at ``log(amplitude_init_factor * peak amplitude)`` (paper's lambda).
    temporal_components : int, default: 8
        0 feeds the raw waveforms to the encoder (the paper). P > 0 first projects each channel's
        waveform on its P principal temporal components, computed from the training examples.
    """

    hidden_sizes: tuple = (256, 128)
    amplitude_model: str = "exponential"
    amplitude_fit: str = "least_squares"
    likelihood: str = "squared_error"
    amplitude_noise_fraction: float = 0.1
    decay_length_um: float = 28.0
    learn_decay_length: bool = False
    prior_std_um: float = 80.0
    amplitude_init_factor: float = 2.0
    temporal_components: int = 8

    def __post_init__(self):
        object.__setattr__(self, "hidden_sizes", tuple(int(h) for h in self.hidden_sizes))
        if self.decay_length_um <= 0 or self.prior_std_um <= 0 or self.amplitude_init_factor <= 0:
            raise ValueError("decay_length_um, prior_std_um and amplitude_init_factor must be positive")
        if self.temporal_components < 0:
            raise ValueError("temporal_components must be >= 0 (0: raw waveforms)")
        from .model import AMPLITUDE_MODELS

        if self.amplitude_model not in AMPLITUDE_MODELS:
            raise ValueError(f"amplitude_model must be one of {AMPLITUDE_MODELS}, not {self.amplitude_model!r}")
        if self.amplitude_fit not in ("least_squares", "per_example"):
            raise ValueError(f"amplitude_fit must be 'least_squares' or 'per_example', not {self.amplitude_fit!r}")
        if self.amplitude_fit == "per_example" and self.amplitude_model == "dipole":
            raise ValueError("amplitude_fit='per_example' needs a one-coefficient amplitude model (not 'dipole')")
        if self.likelihood not in ("squared_error", "gaussian"):
            raise ValueError(f"likelihood must be 'squared_error' or 'gaussian', not {self.likelihood!r}")
        if self.amplitude_noise_fraction < 0:
            raise ValueError("amplitude_noise_fraction must be >= 0")
        if self.learn_decay_length and self.amplitude_model != "exponential":
            raise ValueError("learn_decay_length applies to amplitude_model='exponential' only")


@dataclass(frozen=True, kw_only=True)
class TrainingConfig:
    """Unsupervised training on a random subset of the spikes.

    Parameters
    ----------
    max_spikes : int, default: 100_000
        Training uses a random subset of at most this many spikes; inference covers all.
    epochs : int, default: 20
        Passes over the training examples.
    batch_size : int, default: 128
        Minibatch size (the reference uses 50; 128 trains 2x faster on a CPU for the same accuracy).
    learning_rate : float, default: 1e-3
        Adam learning rate of the encoder (was ``lr``, still accepted with a DeprecationWarning until the
        next release).
    betas : tuple of float, default: (0.99, 0.999)
        Adam betas (the reference's).
    amplitude_learning_rate : float, default: 1e-2
        Learning rate of the per-example ``log a`` (sparse Adam: only the examples of a batch move).
    seed : int, default: 0
        Seed for the subset, the initialisation, the shuffles and the reparameterisation noise.
    device : str | None, default: None
        None -> CPU; "auto" -> CUDA when available.
    num_threads : int | None, default: 1
        Torch CPU threads while training (restored afterwards). Small batches do not gain from more
        threads and lose a lot when cores are shared; None keeps torch's setting.
    """

    max_spikes: int = 100_000
    epochs: int = 20
    batch_size: int = 128
    learning_rate: float = 1e-3
    betas: tuple = (0.99, 0.999)
    amplitude_learning_rate: float = 1e-2
    seed: int = 0
    device: str | None = None
    num_threads: int | None = 1

    def __post_init__(self):
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        if self.max_spikes < 1 or self.epochs < 0 or self.batch_size < 2:
            raise ValueError("max_spikes >= 1, epochs >= 0 and batch_size >= 2 are required")


#: Settings of the paper's (and reference code's) encoder and training, to pass as keyword arguments
#: (``analyzer.compute("vae_locations", **PAPER_SETTINGS)``); the defaults are a faster encoder.
PAPER_SETTINGS = dict(
    hidden_sizes=(500, 250), temporal_components=0, batch_size=50, max_jitter_examples=4, half_width_um=20.0,
    amplitude_model="exponential", amplitude_fit="per_example", likelihood="squared_error",
)

#: FeatureConfig fields that only change how examples are cut at inference: they may differ from
#: the values a reused model was trained with. The others fix the model's input layout.
INFERENCE_FIELDS = (
    "peak_sign",
    "peak_search_samples",
    "peak_radius_um",
    "amplitude_window_samples",
    "amp_jitter_uv",
    "max_jitter_examples",
    "refine_steps",
    "refine_amplitude_model",
)


#: The three configs whose fields are the localizer's settings (keyword arguments everywhere).
CONFIG_CLASSES = (FeatureConfig, ModelConfig, TrainingConfig)


#: Setting names of earlier versions -> today's (accepted until the next release).
RENAMED_SETTINGS = {"lr": "learning_rate", "amplitude_lr": "amplitude_learning_rate"}


def setting_names() -> set:
    """Every keyword :func:`split_config_kwargs` accepts (deprecated names included)."""
    return {f.name for cls in CONFIG_CLASSES for f in fields(cls)} | set(RENAMED_SETTINGS)


def renamed_settings(kwargs: dict, warn: bool = True) -> dict:
    """``kwargs`` with the deprecated setting names replaced by today's (a DeprecationWarning when ``warn``)."""
    import warnings

    out = dict(kwargs)
    for old, new in RENAMED_SETTINGS.items():
        if old in out:
            if new in out:
                raise TypeError(f"Got both {new!r} and its deprecated name {old!r}")
            if warn:
                warnings.warn(f"The VAE localization setting {old!r} is now {new!r}; {old!r} goes in the next release",
                              DeprecationWarning, stacklevel=3)
            out[new] = out.pop(old)
    return out


def split_config_kwargs(kwargs: dict) -> tuple[FeatureConfig, ModelConfig, TrainingConfig]:
    """Build the three configs from one flat dict of keyword arguments.

    Parameters
    ----------
    kwargs : dict
        Any field of :class:`FeatureConfig`, :class:`ModelConfig` or :class:`TrainingConfig`.

    Returns
    -------
    feature_config, model_config, training_config
    """
    groups = {cls: {} for cls in CONFIG_CLASSES}
    names = {cls: {f.name for f in fields(cls)} for cls in groups}
    for key, value in renamed_settings(kwargs).items():
        for cls in groups:
            if key in names[cls]:
                groups[cls][key] = value
                break
        else:
            raise TypeError(f"Unknown VAE localization parameter {key!r}")
    return tuple(cls(**groups[cls]) for cls in groups)
