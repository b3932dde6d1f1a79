"""Configuration of a Roll-AE model and of its training (frozen keyword-only dataclass)."""

from __future__ import annotations

from dataclasses import dataclass

from .loss import RECONSTRUCTION_LOSSES
from .train import LR_SCHEDULES

__all__ = ["RollAEConfig"]


@dataclass(frozen=True, kw_only=True)
class RollAEConfig:
    """Roll-AE architecture and training settings.

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
        ``None`` uses the whole recording as in the paper. On the synthetic 16-class task 16 bins
        (about one cyclic-burst period) gave a better embedding than 32.
    activation : str, default: "relu"
    use_symmetries : bool, default: True
        Aggregate over the electrode-layout symmetries as well as over time shifts.
    tau : float, default: 0.02
        Shift-sampling rate for training (fraction of the ``D`` shifts drawn per batch, at least one);
        inference always uses all shifts. On the synthetic 16-class task (500 wells per class, D = 300)
        the embedding's accuracy on seeds 0-4 was 0.991, 0.991, 0.990, 0.989 and 0.992 with 0.02 (6
        shifts per batch), against 0.988, 0.988, 0.985, 0.988 and 0.990 with 0.05; 0.01 gave 0.989,
        0.990 and 0.986 (seeds 0-2), 0.1 gave 0.984 (seed 2). The paper also found a small rate best.
    epochs : int, default: 30
    batch_size : int, default: 64
    learning_rate : float, default: 1e-3
    weight_decay : float, default: 0.0
    lr_schedule : {"constant", "cosine"}, default: "constant"
        ``"cosine"`` anneals the learning rate from ``learning_rate`` to 0 over the epochs (one
        cosine half-period, stepped per batch). On the synthetic 16-class task (with ``tau=0.05``) it raised the
        embedding's accuracy with 500 training wells per class (0.988 -> 0.992, 0.988 -> 0.990 and
        0.985 -> 0.986 on seeds 0, 1 and 2) but lowered it with 200 (0.976 -> 0.970, seed 0) and on
        MEArec wells of a model trained on synthetic ones (0.887 -> 0.819).
    input_transform : {"none", "log1p"}, default: "log1p"
        Applied to binned counts before scaling (binary inputs are unchanged by either up to scale).
    input_scale : {"std", "max", "none"}, default: "std"
        Global scale fitted on the training wells (one number; per-well scaling would erase rates).
    target_smoothing : float, default: 3.0
        Standard deviation (bins) of a circular Gaussian applied to the reconstruction target,
        i.e. the loss compares rates rather than single spikes; 0 uses the input itself (the paper).
        On the synthetic 16-class task (500 wells per class, ``tau=0.05``) the embedding's accuracy was
        0.981, 0.987, 0.988 and 0.986 for 1, 2, 3 and 4 bins.
    reconstruction_loss : {"mse", "poisson"}, default: "mse"
        Loss between a transformed input and the reconstruction: mean squared error (the paper), or the
        Poisson negative log-likelihood of the (transformed, scaled) counts under positive decoder rates.
        Both keep the Lemma A.1 form (min over the set) and the FFT computation.
    scale_loss_by_set_size : bool, default: False
        Multiply the loss by the set size (Lemma A.1's exact linear-assignment value); off by default
        because it only rescales gradients.
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
    input_transform: str = "log1p"
    input_scale: str = "std"
    target_smoothing: float = 3.0
    reconstruction_loss: str = "mse"
    scale_loss_by_set_size: bool = False
    seed: int | None = 0
    device: str | None = None

    def __post_init__(self):
        if self.embedding_dim < 1:
            raise ValueError("embedding_dim must be >= 1")
        if not (0.0 < self.tau <= 1.0):
            raise ValueError(f"tau must be in (0, 1], got {self.tau}")
        if self.epochs < 0 or self.batch_size < 1:
            raise ValueError("epochs must be >= 0 and batch_size >= 1")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {LR_SCHEDULES}, got {self.lr_schedule!r}")
        if self.input_transform not in ("none", "log1p"):
            raise ValueError(f"input_transform must be 'none' or 'log1p', got {self.input_transform!r}")
        if self.input_scale not in ("std", "max", "none"):
            raise ValueError(f"input_scale must be 'std', 'max' or 'none', got {self.input_scale!r}")
        if self.reconstruction_loss not in RECONSTRUCTION_LOSSES:
            raise ValueError(f"reconstruction_loss must be one of {RECONSTRUCTION_LOSSES}, got {self.reconstruction_loss!r}")
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
