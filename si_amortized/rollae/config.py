"""Configuration of a Roll-AE model and of its training (frozen keyword-only dataclass)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from .loss import RECONSTRUCTION_LOSSES
from .train import LR_SCHEDULES

__all__ = ["RollAEConfig", "ExperimentalOptions", "EXPERIMENTAL_FIELDS", "move_experimental_settings"]


#: Research options that lost on the benchmarks; ``RollAE(**{name: value})`` still takes them with a warning.
EXPERIMENTAL_FIELDS = ("input_transform", "input_scale", "reconstruction_loss", "scale_loss_by_set_size")


@dataclass(frozen=True, kw_only=True)
class ExperimentalOptions:
    """Roll-AE research options kept to reproduce earlier experiments; none beat the defaults.

    Parameters
    ----------
    input_transform : {"none", "log1p"}, default: "log1p"
        Applied to binned counts before scaling (binary inputs are unchanged by either up to scale).
    input_scale : {"std", "max", "none"}, default: "std"
        Global scale fitted on the training wells (one number; per-well scaling would erase rates).
    reconstruction_loss : {"mse", "poisson"}, default: "mse"
        Mean squared error (the paper), or the Poisson negative log-likelihood of the (transformed,
        scaled) counts under positive decoder rates. Both keep the Lemma A.1 form and the FFT computation.
    scale_loss_by_set_size : bool, default: False
        Multiply the loss by the set size (Lemma A.1's exact linear-assignment value); it only rescales
        gradients.
    """

    input_transform: str = "log1p"
    input_scale: str = "std"
    reconstruction_loss: str = "mse"
    scale_loss_by_set_size: bool = False

    def __post_init__(self):
        if self.input_transform not in ("none", "log1p"):
            raise ValueError(f"input_transform must be 'none' or 'log1p', got {self.input_transform!r}")
        if self.input_scale not in ("std", "max", "none"):
            raise ValueError(f"input_scale must be 'std', 'max' or 'none', got {self.input_scale!r}")
        if self.reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(
                f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}, got {self.reconstruction_loss!r}"
            )


@dataclass(frozen=True, kw_only=True)
class RollAEConfig:
    """Roll-AE architecture and training settings.

    The measured choices behind the defaults (``tau``, ``target_smoothing``, ``lr_schedule``,
    ``receptive_field``) are in the README's Roll-AE tables.

    Parameters
    ----------
    embedding_dim : int, default: 128
        ``k``, the size of the well embedding (the paper chose 512 on a V100).
    encoder_hidden : tuple of int | None, default: None
        Encoder MLP hidden sizes; ``None`` gives the paper's ``(4k, 2k)``.
    decoder_hidden : tuple of int | None, default: None
        Decoder MLP hidden sizes; ``None`` gives the paper's ``(2k, 4k)``.
    receptive_field : int | None, default: 16
        Length in bins of the first-layer weights (local kernels, still applied to every shift);
        ``None`` uses the whole recording as in the paper.
    activation : str, default: "relu"
    use_symmetries : bool, default: True
        Aggregate over the electrode-layout symmetries as well as over time shifts.
    tau : float, default: 0.02
        Shift-sampling rate for training (fraction of the ``D`` shifts drawn per batch, at least one);
        inference always uses all shifts.
    epochs : int, default: 30
    batch_size : int, default: 64
    learning_rate : float, default: 1e-3
    weight_decay : float, default: 0.0
    lr_schedule : {"constant", "cosine"}, default: "constant"
        ``"cosine"`` anneals the learning rate from ``learning_rate`` to 0 over the epochs (one
        cosine half-period, stepped per batch); it helps only with many training wells.
    target_smoothing : float, default: 3.0
        Standard deviation (bins) of a circular Gaussian applied to the reconstruction target,
        i.e. the loss compares rates rather than single spikes; 0 uses the input itself (the paper).
    experimental : ExperimentalOptions, default: ExperimentalOptions()
        Research options (input transform and scale, Poisson loss, set-size scaling).
    seed : int | None, default: 0
    device : str | None, default: None
        ``None``/"cpu", "cuda", or "auto" (CUDA when present).
    """

    embedding_dim: int = 128
    encoder_hidden: tuple[int, ...] | None = None
    decoder_hidden: tuple[int, ...] | None = None
    receptive_field: int | None = 16
    activation: str = "relu"
    use_symmetries: bool = True
    tau: float = 0.02
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 1e-3
    weight_decay: float = 0.0
    lr_schedule: str = "constant"
    target_smoothing: float = 3.0
    experimental: ExperimentalOptions = ExperimentalOptions()
    seed: int | None = 0
    device: str | None = None

    def __post_init__(self):
        # JSON gives lists and dicts back: normalize so a reloaded config equals the original
        for name in ("encoder_hidden", "decoder_hidden"):
            if getattr(self, name) is not None:
                object.__setattr__(self, name, tuple(int(v) for v in getattr(self, name)))
        if isinstance(self.experimental, dict):
            object.__setattr__(self, "experimental", ExperimentalOptions(**self.experimental))
        if self.embedding_dim < 1:
            raise ValueError("embedding_dim must be >= 1")
        if not (0.0 < self.tau <= 1.0):
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError("epochs must be >= 0 and batch_size >= 1")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.target_smoothing < 0:
            raise ValueError("target_smoothing must be >= 0")
        if self.receptive_field is not None and self.receptive_field < 1:
            raise ValueError("receptive_field must be >= 1 or None")

    @property
    def encoder_sizes(self) -> tuple[int, ...]:
        k = self.embedding_dim
        return tuple(self.encoder_hidden) if self.encoder_hidden is not None else (4 * k, 2 * k)

    @property
    def decoder_sizes(self) -> tuple[int, ...]:
        k = self.embedding_dim
        return tuple(self.decoder_hidden) if self.decoder_hidden is not None else (2 * k, 4 * k)


def move_experimental_settings(settings: dict) -> dict:
    """``settings`` with any top-level research option moved into ``experimental`` (older configs, old calls).

    Parameters
    ----------
    settings : dict
        ``RollAEConfig`` fields, possibly with ``EXPERIMENTAL_FIELDS`` at the top level.
    """
    moved = {k: settings[k] for k in EXPERIMENTAL_FIELDS if k in settings}
    if not moved:
        return dict(settings)
    rest = {k: v for k, v in settings.items() if k not in EXPERIMENTAL_FIELDS}
    base = rest.get("experimental") or {}
    base = base if isinstance(base, dict) else dataclasses.asdict(base)
    rest["experimental"] = ExperimentalOptions(**{**base, **moved})
    return rest
