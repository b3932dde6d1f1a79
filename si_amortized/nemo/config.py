"""Frozen configurations of NEMO: preprocessing (ACG images, waveforms), model, augmentations, training.

All configs are keyword-only frozen dataclasses; :func:`dataclasses.asdict` gives the JSON-serialisable
form stored in the extension params and next to trained weights, and the ``from_dict`` helpers read it back.
"""

from __future__ import annotations

import functools
import warnings
from dataclasses import asdict, dataclass, field, fields

__all__ = [
    "ACGConfig",
    "WaveformConfig",
    "ModelConfig",
    "NemoConfig",
    "AugmentConfig",
    "TrainConfig",
    "nemo_config_from_dict",
    "train_config_from_dict",
]


@dataclass(frozen=True, kw_only=True)
class ACGConfig:
    """3D autocorrelogram images (Beau et al. 2025, as used by NEMO).

    Parameters
    ----------
    window_ms : float, default: 2000.0
        Full ACG window; the image keeps the positive half, lags in ``(0, window_ms / 2]``.
    bin_ms : float, default: 1.0
        Width of the linear lag bins counted before the log resampling.
    num_rate_bins : int, default: 10
        Number of firing-rate quantile rows (deciles).
    smoothing_ms : float, default: 250.0
        Width of the boxcar that smooths the inverse-ISI instantaneous firing rate.
    num_log_bins : int, default: 101
        Number of columns: log-spaced lag bins from ``log_start_ms`` to ``window_ms / 2``.
    log_start_ms : float, default: 0.8
        Left edge of the first log bin.
    scale : float, default: 10.0
        Multiplier of the spike probability per 1 ms bin per trigger spike (the reference uses 10).
    """

    window_ms: float = 2000.0
    bin_ms: float = 1.0
    num_rate_bins: int = 10
    smoothing_ms: float = 250.0
    num_log_bins: int = 101
    log_start_ms: float = 0.8
    scale: float = 10.0

    def __post_init__(self):
        if not self.window_ms / 2 > self.log_start_ms > 0:
            raise ValueError("need 0 < log_start_ms < window_ms / 2")
        if self.bin_ms <= 0 or self.num_rate_bins < 1 or self.num_log_bins < 1 or self.smoothing_ms <= 0:
            raise ValueError("bin_ms, smoothing_ms > 0 and num_rate_bins, num_log_bins >= 1 are required")


@dataclass(frozen=True, kw_only=True)
class WaveformConfig:
    """Template waveform normalization.

    Parameters
    ----------
    ms_before, ms_after : float, default: 1.0, 2.0
        Window around the main peak of the peak channel.
    num_samples : int, default: 90
        Samples after resampling (90 = 3 ms at 30 kHz), whatever the recording's sampling rate.
    baseline_ms : float, default: 1.0
        The baseline is the median of the first ``baseline_ms`` of the window (peak channel).
    num_channels : int, default: 1
        1 = peak channel only (the paper's main setting); 9 or 25 = the nearest channels to the peak
        channel, ordered by distance (missing channels are zeros).
    align_on_peak : bool, default: True
        Centre the window on the main peak of the peak channel rather than on the template's
        alignment sample.
    """

    ms_before: float = 1.0
    ms_after: float = 2.0
    num_samples: int = 90
    baseline_ms: float = 1.0
    num_channels: int = 1
    align_on_peak: bool = True

    def __post_init__(self):
        if self.ms_before <= 0 or self.ms_after <= 0 or self.num_samples < 4 or self.num_channels < 1:
            raise ValueError("ms_before, ms_after > 0, num_samples >= 4 and num_channels >= 1 are required")
        if not 0 < self.baseline_ms <= self.ms_before + self.ms_after:
            raise ValueError("baseline_ms must lie inside the window")


@dataclass(frozen=True, kw_only=True)
class ModelConfig:
    """Encoders and projections (sizes of the paper).

    Parameters
    ----------
    acg_dim : int, default: 200
        ACG representation size.
    waveform_hidden : int, default: 600
    waveform_dim : int, default: 300
        Waveform representation size.
    projection_dim : int, default: 512
    acg_dropout, waveform_dropout : float, default: 0.2, 0.1
    temperature : float, default: 0.5
        Fixed CLIP temperature.
    """

    acg_dim: int = 200
    waveform_hidden: int = 600
    waveform_dim: int = 300
    projection_dim: int = 512
    acg_dropout: float = 0.2
    waveform_dropout: float = 0.1
    temperature: float = 0.5


@dataclass(frozen=True, kw_only=True)
class NemoConfig:
    """Everything needed to rebuild a trained NEMO model and prepare its inputs."""

    acg: ACGConfig = field(default_factory=ACGConfig)
    waveform: WaveformConfig = field(default_factory=WaveformConfig)
    model: ModelConfig = field(default_factory=ModelConfig)

    @property
    def acg_shape(self) -> tuple[int, int]:
        return (self.acg.num_rate_bins, self.acg.num_log_bins)

    @property
    def waveform_shape(self) -> tuple[int, int]:
        return (self.waveform.num_channels, self.waveform.num_samples)

    @property
    def representation_dim(self) -> int:
        return self.model.acg_dim + self.model.waveform_dim

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """The paper's augmentations (Supplementary Table 1); each ``p_*`` is a per-example probability.

    Multi-channel templates add amplitude jitter (each channel scaled by U(0.9, 1.1) with ``p_amp_jitter``)
    and electrode dropout (each channel zeroed with ``p_dropout``; the peak channel is kept).
    """

    p_wf_noise: float = 0.3
    wf_noise_scale: float = 0.1
    p_smooth: float = 0.5
    smooth_sigma: float = 2.0
    p_jitter: float = 0.5
    max_jitter: int = 3
    p_scale: float = 0.5
    scale_range: tuple[float, float] = (0.9, 1.1)
    p_acg_noise: float = 0.5
    acg_noise_scale: float = 0.1
    p_pepper: float = 0.5
    pepper_fraction: float = 0.05
    p_amp_jitter: float = 0.3
    p_dropout: float = 0.1


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Optimisation (paper: Adam 5e-4, cosine warm restarts with T_0 = 20 epochs, batch 1024, 1500-6000 epochs).

    Parameters
    ----------
    epochs : int, default: 200
        Far fewer than the paper: simulated data sets are small and CPUs slow. Say so when reporting.
    batch_size : int, default: 1024
    learning_rate : float, default: 5e-4
        Adam learning rate. Was ``lr``: ``TrainConfig(lr=...)`` and ``config.lr`` still work until the next
        release, with a DeprecationWarning.
    t0_epochs : int, default: 20
        Period of the cosine warm restarts, in epochs.
    eval_every : int, default: 5
        Validation retrieval is measured every ``eval_every`` epochs; the best checkpoint is kept.
    val_fraction : float, default: 0.1
        Fraction of units held out for checkpoint choice (or pass explicit validation arrays).
    weight_decay : float, default: 0.0
    """

    epochs: int = 200
    batch_size: int = 1024
    learning_rate: float = 5e-4
    t0_epochs: int = 20
    eval_every: int = 5
    val_fraction: float = 0.1
    weight_decay: float = 0.0

    @property
    def lr(self) -> float:
        """Deprecated name of :attr:`learning_rate` (goes in the next release)."""
        warnings.warn(_LR_RENAMED, DeprecationWarning, stacklevel=2)
        return self.learning_rate


_LR_RENAMED = "TrainConfig's lr is now learning_rate; the name lr goes in the next release"


def _accept_renamed_lr(init):
    """Wrap the generated ``__init__`` so the old keyword ``lr=`` still works (until the next release).

    Not a dataclass field: ``asdict`` and the saved JSON hold ``learning_rate`` only, ``replace`` and ``==``
    are unchanged; stored dicts with ``lr`` are read by :func:`train_config_from_dict`.
    """

    @functools.wraps(init)
    def __init__(self, **kwargs):
        if "lr" in kwargs:
            if "learning_rate" in kwargs:
                raise TypeError("TrainConfig got both learning_rate and its deprecated name lr")
            warnings.warn(_LR_RENAMED, DeprecationWarning, stacklevel=2)
            kwargs["learning_rate"] = kwargs.pop("lr")
        init(self, **kwargs)

    return __init__


TrainConfig.__init__ = _accept_renamed_lr(TrainConfig.__init__)


def _build(cls, values: dict | None, renamed: dict | None = None):
    if values is None:
        return cls()
    for old, new in (renamed or {}).items():  # field names of earlier versions in stored files
        if old in values and new not in values:
            values = {new if k == old else k: v for k, v in values.items()}
    names = {f.name for f in fields(cls)}
    unknown = set(values) - names
    if unknown:
        raise ValueError(f"unknown {cls.__name__} fields: {sorted(unknown)}")
    values = {k: tuple(v) if isinstance(v, list) else v for k, v in values.items()}
    return cls(**values)


def nemo_config_from_dict(values: dict | NemoConfig | None) -> NemoConfig:
    """Rebuild a :class:`NemoConfig` from :func:`dataclasses.asdict` output (e.g. read from JSON)."""
    if isinstance(values, NemoConfig):
        return values
    values = values or {}
    return NemoConfig(
        acg=_build(ACGConfig, values.get("acg")),
        waveform=_build(WaveformConfig, values.get("waveform")),
        model=_build(ModelConfig, values.get("model")),
    )


def train_config_from_dict(values: dict | TrainConfig | None) -> TrainConfig:
    """Rebuild a :class:`TrainConfig` from :func:`dataclasses.asdict` output (e.g. a training record's JSON).

    Records written before the rename hold ``lr``: it is read as ``learning_rate`` (no warning: stored files
    stay readable).
    """
    if isinstance(values, TrainConfig):
        return values
    return _build(TrainConfig, values, renamed={"lr": "learning_rate"})
