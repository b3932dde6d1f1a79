"""Training NEMO on SortingAnalyzers (the entry point), and batched inference of unit representations.

:func:`fit_nemo` prepares the inputs of each analyzer, then runs :func:`si_amortized.nemo.train.train_nemo`, the
optimisation loop on arrays. The two names used to be the other way round: ``fit_nemo`` given arrays still
forwards to ``train_nemo`` until the next release, with a DeprecationWarning.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from .._torch import predict_in_batches, resolve_device
from .config import AugmentConfig, NemoConfig, TrainConfig
from .inputs import are_sorting_analyzers, inputs_from_analyzers
from .model import NemoModel
from .train import evaluate_retrieval, train_nemo  # noqa: F401  (evaluate_retrieval: old path)

__all__ = ["fit_nemo", "embed", "EMBEDDING_PARTS", "DEFAULT_EMBEDDING", "embedding_parts", "embedding_features",
           "embedding_feature_names"]

#: What a unit's NEMO features can be made of: the paper's representation (ACG encoder 200 + waveform encoder
#: 300, before the projections) and each modality's L2-normalized projection (512 each, the space the
#: contrastive loss shapes), in this order.
EMBEDDING_PARTS = ("representation", "acg_projection", "waveform_projection")
#: Chosen on the selection recordings of ``benchmarks/nemo_celltypes.py`` (see the README's NEMO section).
DEFAULT_EMBEDDING = ("representation", "waveform_projection")


def fit_nemo(
    sorting_analyzers,
    *deprecated_args,
    config: NemoConfig | None = None,
    model: NemoModel | None = None,
    train_config: TrainConfig = TrainConfig(),
    augment_config: AugmentConfig = AugmentConfig(),
    validation_analyzers=None,
    seed: int | None = 0,
    device: str | None = "auto",
    progress_bar: bool = True,
    **deprecated_kwargs,
):
    """Train a NEMO model on the units of one or several SortingAnalyzers (the entry point).

    Inputs are prepared per analyzer (:func:`~si_amortized.nemo.inputs.inputs_from_analyzers`), then
    :func:`~si_amortized.nemo.train.train_nemo` runs the optimisation loop. ``fit_nemo(acg_images, waveforms,
    ...)``, the name's former meaning (now ``train_nemo``), still works until the next release, with a
    DeprecationWarning.

    Parameters
    ----------
    sorting_analyzers : SortingAnalyzer | list of SortingAnalyzer
    config : NemoConfig | None, default: None
        Preprocessing and architecture of a new model (default: the paper's).
    model : NemoModel | None, default: None
        Continue training this model (its config is used).
    train_config, augment_config : TrainConfig, AugmentConfig
    validation_analyzers : SortingAnalyzer | list | None, default: None
        Held-out analyzers for the checkpoint choice (default: a random ``val_fraction`` of units).
    seed : int | None, default: 0
    device : str | None, default: "auto"
    progress_bar : bool, default: True

    Returns
    -------
    model : NemoModel
    history : dict
    """
    if not are_sorting_analyzers(sorting_analyzers):
        warnings.warn(
            "fit_nemo(acg_images, waveforms, ...) is now train_nemo(acg_images, waveforms, ...) (fit_* = entry "
            "point on SortingAnalyzers, train_* = the loop on arrays); this form of fit_nemo goes in the next release",
            DeprecationWarning,
            stacklevel=2,
        )
        if validation_analyzers is not None:
            raise TypeError("train_nemo(acg_images, waveforms, ...) takes validation=(acg_images, waveforms)")
        return train_nemo(sorting_analyzers, *deprecated_args, config=config, model=model, train_config=train_config,
                          augment_config=augment_config, seed=seed, device=device, progress_bar=progress_bar,
                          **deprecated_kwargs)
    if deprecated_args or deprecated_kwargs:
        unexpected = [f"{len(deprecated_args)} positional"] if deprecated_args else []
        raise TypeError(f"fit_nemo() got unexpected arguments: {unexpected + sorted(deprecated_kwargs)}")
    cfg = model.config if model is not None else (config or NemoConfig())
    acg, wf, _ = inputs_from_analyzers(sorting_analyzers, cfg)
    validation = None
    if validation_analyzers is not None:
        v_acg, v_wf, _ = inputs_from_analyzers(validation_analyzers, cfg)
        validation = (v_acg, v_wf)
    return train_nemo(
        acg, wf, config=cfg, model=model, train_config=train_config, augment_config=augment_config,
        validation=validation, seed=seed, device=device, progress_bar=progress_bar,
    )


def embed(
    model: NemoModel,
    acg_images: np.ndarray,
    waveforms: np.ndarray,
    *,
    projections: bool = False,
    batch_size: int = 1024,
    device: str | torch.device | None = None,
):
    """Unit representations (and optionally projections) of a trained model, in eval mode.

    Parameters
    ----------
    model : NemoModel
    acg_images : np.ndarray, shape (num_units, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units, num_channels, num_samples)
    projections : bool, default: False
    batch_size : int, default: 1024
    device : str | torch.device | None, default: None

    Returns
    -------
    representation : np.ndarray, shape (num_units, acg_dim + waveform_dim)
    projection : np.ndarray, shape (num_units, 2, projection_dim)
        ACG then waveform projections; only when ``projections`` is True.
    """
    waveforms = np.asarray(waveforms, dtype=np.float32)
    if waveforms.ndim == 2:
        waveforms = waveforms[:, None, :]
    dev = resolve_device(device)
    was_training = model.training
    model.eval().to(dev)

    def fn(a, w):
        rep_acg, rep_wf = model.encode(a, w)
        rep = torch.cat([rep_acg, rep_wf], dim=1)
        if not projections:
            return rep
        z_acg, z_wf = model.project(rep_acg, rep_wf)
        return rep, torch.stack([z_acg, z_wf], dim=1)

    out = predict_in_batches(fn, np.asarray(acg_images, dtype=np.float32), waveforms, batch_size=batch_size, device=dev)
    model.cpu().train(was_training)
    if projections and not isinstance(out, tuple):
        out = (out, np.zeros((0, 2, model.config.model.projection_dim), dtype=np.float32))
    return out


def embedding_parts(embedding) -> tuple[str, ...]:
    """The parts of an embedding, in :data:`EMBEDDING_PARTS` order.

    Parameters
    ----------
    embedding : str | sequence of str
        Parts of :data:`EMBEDDING_PARTS`, as a sequence or joined by "+" (``"representation+waveform_projection"``).

    Raises
    ------
    ValueError
        On an unknown or repeated part, or none.
    """
    parts = embedding.split("+") if isinstance(embedding, str) else list(embedding) \
        if isinstance(embedding, (list, tuple)) else None
    if not parts or not all(isinstance(p, str) for p in parts) or len(set(parts)) != len(parts) \
            or any(p not in EMBEDDING_PARTS for p in parts):
        raise ValueError(f"embedding must be one or more distinct parts of {EMBEDDING_PARTS}, not {embedding!r}")
    return tuple(p for p in EMBEDDING_PARTS if p in parts)


def embedding_features(representation: np.ndarray, projections: np.ndarray | None, embedding) -> np.ndarray:
    """The feature matrix of an embedding.

    Parameters
    ----------
    representation : np.ndarray, shape (num_units, acg_dim + waveform_dim)
    projections : np.ndarray | None, shape (num_units, 2, projection_dim)
        ACG then waveform projections (:func:`embed` with ``projections=True``); unused without a projection part.
    embedding : str | sequence of str
        See :func:`embedding_parts`.

    Returns
    -------
    np.ndarray, shape (num_units, num_features)
        The parts' columns in :data:`EMBEDDING_PARTS` order.
    """
    parts = embedding_parts(embedding)
    columns = []
    for part in parts:
        if part == "representation":
            columns.append(np.asarray(representation))
            continue
        if projections is None:
            raise ValueError(f"the embedding {parts} needs the projections")
        columns.append(np.asarray(projections)[:, 0 if part == "acg_projection" else 1])
    return np.concatenate(columns, axis=1)


def embedding_feature_names(representation_dim: int, projection_dim: int, embedding) -> list[str]:
    """Column names of :func:`embedding_features`: ``nemo_i``, ``nemo_acg_proj_i``, ``nemo_wf_proj_i``."""
    prefixes = dict(acg_projection="nemo_acg_proj", waveform_projection="nemo_wf_proj")
    names = []
    for part in embedding_parts(embedding):
        if part == "representation":
            names += [f"nemo_{i}" for i in range(representation_dim)]
        else:
            names += [f"{prefixes[part]}_{i}" for i in range(projection_dim)]
    return names
