"""``RollAE``: an sklearn-style estimator on binned wells ``(n_wells, n_electrodes, n_bins)``."""

from __future__ import annotations

import dataclasses
import json
import warnings
from pathlib import Path

import numpy as np
import torch

from .._torch import predict_in_batches, resolve_device, seed_everything
from ..model_store import load_model, register_model_kind, save_model
from .config import EXPERIMENTAL_FIELDS, RollAEConfig, move_experimental_settings
from .model import RollAENet
from .symmetry import check_positions, layout_symmetries
from .train import train_rollae

__all__ = ["RollAE"]

_FORMAT_VERSION = 1
#: Kind of a fitted Roll-AE in :mod:`si_amortized.model_store`, and its file name in a folder.
MODEL_KIND = "rollae"
MODEL_FILE_NAME = "rollae_model.pt"


class RollAE:
    """Roll-AE well embeddings, exactly invariant to cyclic time shifts and layout symmetries.

    Parameters
    ----------
    electrode_positions : array-like, shape (num_electrodes, ndim) | None, default: None
        Contact positions of one well, in the electrode order of the inputs. Their distance-preserving
        permutations are folded into the embedding (``use_symmetries``); ``None``: time shifts only.
    config : RollAEConfig | None, default: None
        Full configuration; keyword arguments override its fields.
    **kwargs
        Any :class:`RollAEConfig` field, e.g. ``embedding_dim=128, epochs=30, tau=0.02, seed=0, device="auto"``.

    Attributes
    ----------
    symmetries_ : np.ndarray, shape (num_symmetries, num_electrodes)
    n_bins_ : int
    scale_ : float
        Global input scale fitted on the training wells.
    history_ : list of float
        Training loss per epoch.

    Examples
    --------
    >>> model = RollAE(electrode_positions=axion_323_positions(), embedding_dim=32, epochs=5)
    >>> emb = model.fit(X_train).transform(X_test)   # X_*: (n_wells, 8, n_bins)
    """

    def __init__(self, electrode_positions=None, *, config: RollAEConfig | None = None, **kwargs):
        base = config if config is not None else RollAEConfig()
        moved = {k: kwargs.pop(k) for k in EXPERIMENTAL_FIELDS if k in kwargs}
        if moved:
            warnings.warn(
                f"{sorted(moved)} are research options: pass experimental=ExperimentalOptions(...); "
                "the top-level names go in the next release",
                DeprecationWarning,
                stacklevel=2,
            )
            kwargs["experimental"] = dataclasses.replace(kwargs.get("experimental", base.experimental), **moved)
        names = {f.name for f in dataclasses.fields(RollAEConfig)}
        unknown = sorted(set(kwargs) - names)
        if unknown:
            raise TypeError(f"unknown RollAE settings {unknown}; valid: {sorted(names)}")
        self.config = dataclasses.replace(base, **kwargs) if kwargs else base
        self.electrode_positions = None if electrode_positions is None else check_positions(electrode_positions)
        self.net_: RollAENet | None = None
        self.symmetries_: np.ndarray | None = None
        self.n_bins_: int | None = None
        self.scale_: float | None = None
        self.history_: list[float] = []

    # ------------------------------------------------------------------ helpers
    @property
    def n_electrodes_(self) -> int | None:
        if self.electrode_positions is not None:
            return self.electrode_positions.shape[0]
        return None if self.net_ is None else self.net_.num_electrodes

    def _check_input(self, X, fitting: bool) -> np.ndarray:
        X = np.asarray(X)
        if X.ndim == 2:
            X = X[None]
        if X.ndim != 3:
            raise ValueError(f"wells must have shape (n_wells, n_electrodes, n_bins), got {X.shape}")
        if X.shape[0] == 0:
            raise ValueError("no wells given (n_wells = 0)")
        if not np.issubdtype(X.dtype, np.number) or not np.all(np.isfinite(X)):
            raise ValueError("wells must be finite numbers (binned spike counts)")
        if np.any(X < 0):
            raise ValueError("wells must hold non-negative binned spike counts")
        n_el = self.n_electrodes_
        if n_el is not None and X.shape[1] != n_el:
            what = "electrode_positions" if self.electrode_positions is not None else "the fitted model"
            raise ValueError(
                f"wells have {X.shape[1]} electrodes but {what} has {n_el}: electrode counts must match "
                "between fit and transform (and the layout)"
            )
        if not fitting:
            if self.net_ is None:
                raise RuntimeError("this RollAE is not fitted yet; call fit(X) first")
            if X.shape[2] != self.n_bins_:
                raise ValueError(f"wells have {X.shape[2]} bins but the model was fit on {self.n_bins_} bins")
        return X

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = X.astype(np.float32)
        if self.config.experimental.input_transform == "log1p":
            X = np.log1p(X)
        return X / np.float32(self.scale_)

    # ------------------------------------------------------------------ API
    def fit(self, X, verbose: bool = False) -> "RollAE":
        """Train on wells ``X`` of shape ``(n_wells, n_electrodes, n_bins)`` (binned spike counts)."""
        X = self._check_input(X, fitting=True)
        cfg = self.config
        exp = cfg.experimental
        n_el, n_bins = X.shape[1], X.shape[2]
        if self.electrode_positions is not None and cfg.use_symmetries:
            self.symmetries_ = layout_symmetries(self.electrode_positions)
        else:
            self.symmetries_ = np.arange(n_el)[None, :]
        Xt = X.astype(np.float32)
        if exp.input_transform == "log1p":
            Xt = np.log1p(Xt)
        if exp.input_scale == "std":
            scale = float(Xt.std())
        elif exp.input_scale == "max":
            scale = float(Xt.max())
        else:
            scale = 1.0
        if not np.any(Xt > 0):
            raise ValueError("no spikes in any training well: nothing to learn")
        self.scale_ = scale if scale > 0 else 1.0
        self.n_bins_ = n_bins
        generator = seed_everything(cfg.seed)
        device = resolve_device(cfg.device)
        self.net_ = self._build_net(n_el, n_bins)
        self.history_ = train_rollae(
            self.net_,
            Xt / np.float32(self.scale_),
            epochs=cfg.epochs,
            batch_size=cfg.batch_size,
            learning_rate=cfg.learning_rate,
            weight_decay=cfg.weight_decay,
            lr_schedule=cfg.lr_schedule,
            tau=cfg.tau,
            target_smoothing=cfg.target_smoothing,
            scale_loss_by_set_size=exp.scale_loss_by_set_size,
            element_loss=exp.reconstruction_loss,
            generator=generator,
            device=device,
            verbose=verbose,
        )
        self.net_.to("cpu")
        return self

    def _build_net(self, n_el: int, n_bins: int) -> RollAENet:
        cfg = self.config
        return RollAENet(
            n_el,
            n_bins,
            cfg.embedding_dim,
            encoder_hidden=cfg.encoder_sizes,
            decoder_hidden=cfg.decoder_sizes,
            symmetries=torch.as_tensor(self.symmetries_),
            receptive_field=cfg.receptive_field,
            activation=cfg.activation,
            output_activation="softplus" if cfg.experimental.reconstruction_loss == "poisson" else "none",
        )

    def transform(self, X, batch_size: int = 64, device: str | None = None, features: str = "embedding") -> np.ndarray:
        """Embeddings over the full set of shifts and symmetries (exactly invariant).

        Parameters
        ----------
        X : array-like, shape (n_wells, n_electrodes, n_bins)
        batch_size : int, default: 64
        device : str | None
            Defaults to the configured device.
        features : {"embedding", "pooled"}, default: "embedding"
            ``"embedding"``: the ``k``-dim Roll-AE embedding (the paper). ``"pooled"``: every encoder
            layer's set-mean activations concatenated with the embedding (richer, equally invariant).

        Returns
        -------
        np.ndarray, shape (n_wells, embedding_dim) or (n_wells, sum(encoder_hidden) + embedding_dim)
        """
        if features not in ("embedding", "pooled"):
            raise ValueError(f"features must be 'embedding' or 'pooled', got {features!r}")
        X = self._prepare(self._check_input(X, fitting=False))
        dev = resolve_device(device if device is not None else self.config.device)
        self.net_.to(dev).eval()
        fn = self.net_.encode if features == "embedding" else self.net_.pooled_features
        try:
            return predict_in_batches(fn, X, batch_size=batch_size, device=dev)
        finally:
            self.net_.to("cpu")

    def fit_transform(self, X, verbose: bool = False) -> np.ndarray:
        """``fit(X).transform(X)``."""
        return self.fit(X, verbose=verbose).transform(X)

    def reconstruct(self, X, batch_size: int = 64) -> np.ndarray:
        """Decoder output for each well (in the scaled input space), shape ``(n_wells, n_electrodes, n_bins)``.

        The reconstruction is defined up to a cyclic shift and a layout symmetry.
        """
        X = self._prepare(self._check_input(X, fitting=False))
        self.net_.eval()
        return predict_in_batches(lambda x: self.net_(x)[1], X, batch_size=batch_size)

    # ------------------------------------------------------------------ persistence
    def state(self) -> tuple[dict, dict]:
        """``(meta, state_dict)``: JSON-serialisable description and the torch weights."""
        if self.net_ is None:
            raise RuntimeError("this RollAE is not fitted yet")
        meta = dict(
            format_version=_FORMAT_VERSION,
            config=dataclasses.asdict(self.config),
            electrode_positions=None if self.electrode_positions is None else self.electrode_positions.tolist(),
            symmetries=self.symmetries_.tolist(),
            n_electrodes=self.net_.num_electrodes,
            n_bins=self.n_bins_,
            scale=self.scale_,
            history=list(self.history_),
        )
        return meta, {k: v.detach().cpu() for k, v in self.net_.state_dict().items()}

    @classmethod
    def from_state(cls, meta: dict, state_dict: dict) -> "RollAE":
        """Rebuild a fitted model from :meth:`state`."""
        if meta.get("format_version") != _FORMAT_VERSION:
            raise ValueError(f"unsupported RollAE format version {meta.get('format_version')}")
        cfg = move_experimental_settings(dict(meta["config"]))  # models saved before the options moved
        model = cls(meta["electrode_positions"], config=RollAEConfig(**cfg))
        model.symmetries_ = np.asarray(meta["symmetries"], dtype=np.int64)
        model.n_bins_ = int(meta["n_bins"])
        model.scale_ = float(meta["scale"])
        model.history_ = list(meta.get("history", []))
        model.net_ = model._build_net(int(meta["n_electrodes"]), model.n_bins_)
        model.net_.load_state_dict({k: torch.as_tensor(np.asarray(v)) for k, v in state_dict.items()})
        model.net_.eval()
        return model

    def save(self, path) -> Path:
        """Write the fitted model with :func:`si_amortized.model_store.save_model`.

        Parameters
        ----------
        path : str | Path
            A ``.pt`` file, or a folder (``rollae_model.pt`` is written inside).
        """
        path = Path(path)
        if path.suffix != ".pt":
            path = path / MODEL_FILE_NAME
        return save_model(self, path)

    @classmethod
    def load(cls, path) -> "RollAE":
        """Load a model written by :meth:`save` (a file or its folder); folders of earlier versions load too."""
        path = Path(path)
        if path.is_dir() and (path / MODEL_FILE_NAME).is_file():
            path = path / MODEL_FILE_NAME
        if path.is_file():
            return load_model(path, kind=MODEL_KIND)
        if not (path / "rollae.json").exists():
            raise FileNotFoundError(f"no saved RollAE ({MODEL_FILE_NAME} or rollae.json) in {path}")
        meta = json.loads((path / "rollae.json").read_text())  # si_amortized <= 0.5 layout
        sd = torch.load(path / "rollae_weights.pt", map_location="cpu", weights_only=True)
        return cls.from_state(meta, sd)

    def __repr__(self) -> str:
        fitted = "fitted" if self.net_ is not None else "not fitted"
        return f"RollAE(embedding_dim={self.config.embedding_dim}, tau={self.config.tau}, {fitted})"


register_model_kind(MODEL_KIND, RollAE, RollAE.state, RollAE.from_state)
