"""Well embeddings and neural metrics of SpikeInterface objects: one analyzer, or many recordings of a plate."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .estimator import RollAE
from .metrics import NeuralMetricsConfig, neural_metrics
from .wells import WellSpikeTrains, pool_to_grid, stack_wells, well_spike_trains

__all__ = [
    "embed_wells",
    "plate_well_tensors",
    "compute_plate_embeddings",
    "plate_neural_metrics",
    "fit_well_model",
]


def _as_named(recordings) -> dict:
    if isinstance(recordings, dict):
        return {str(k): v for k, v in recordings.items()}
    if isinstance(recordings, (list, tuple)):
        return {f"rec{i}": r for i, r in enumerate(recordings)}
    return {"rec0": recordings}


def _wells_of(obj, well_property=None, grid_shape=None, unit_ids=None, detect_kwargs=None, job_kwargs=None) -> list[WellSpikeTrains]:
    wells = well_spike_trains(obj, well_property=well_property, detect_kwargs=detect_kwargs, job_kwargs=job_kwargs, unit_ids=unit_ids)
    if grid_shape is not None:
        wells = [pool_to_grid(w, tuple(grid_shape)) for w in wells]
    return wells


def _get_model(model, positions, fit_kwargs, X) -> RollAE:
    if model is None:
        model = RollAE(positions, **dict(fit_kwargs or {}))
        model.fit(X)
    return model


def fit_well_model(
    obj,
    bin_width_s: float = 0.5,
    well_property: str | None = None,
    grid_shape=None,
    fit_kwargs: dict | None = None,
    unit_ids=None,
    detect_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
) -> RollAE:
    """A new :class:`RollAE` fitted on the wells of one recording or SortingAnalyzer (see :func:`embed_wells`)."""
    wells = _wells_of(obj, well_property, grid_shape, unit_ids, detect_kwargs, job_kwargs)
    X, positions = stack_wells(wells, bin_width_s)
    return _get_model(None, positions, fit_kwargs, X)


def embed_wells(
    obj,
    model: RollAE | None = None,
    bin_width_s: float = 0.5,
    well_property: str | None = None,
    grid_shape=None,
    fit_kwargs: dict | None = None,
    unit_ids=None,
    detect_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
) -> tuple[pd.DataFrame, RollAE]:
    """Roll-AE embeddings of the wells of one recording or SortingAnalyzer.

    Parameters
    ----------
    obj : BaseRecording | SortingAnalyzer
    model : RollAE | None
        Fitted model; ``None`` fits a new model (``fit_kwargs``) on these wells.
    bin_width_s : float, default: 0.5
    well_property, grid_shape : see :func:`~si_amortized.rollae.wells.well_channel_groups`, :func:`~si_amortized.rollae.wells.pool_to_grid`
    fit_kwargs : dict | None
    unit_ids : array-like | None
        Analyzer only: restrict to these units.
    detect_kwargs, job_kwargs : dict | None
        Recording only: peak detection settings.

    Returns
    -------
    embeddings : pandas.DataFrame, shape (num_wells, embedding_dim), index ``well``
    model : RollAE
    """
    wells = _wells_of(obj, well_property, grid_shape, unit_ids, detect_kwargs, job_kwargs)
    X, positions = stack_wells(wells, bin_width_s)
    model = _get_model(model, positions, fit_kwargs, X)
    emb = model.transform(_match_bins(X, model))
    df = pd.DataFrame(emb, index=pd.Index([w.well_id for w in wells], name="well"))
    df.columns = [f"emb_{i}" for i in range(emb.shape[1])]
    return df, model


def _match_bins(X: np.ndarray, model: RollAE) -> np.ndarray:
    if model.n_bins_ is None or X.shape[2] == model.n_bins_:
        return X
    raise ValueError(
        f"these recordings give {X.shape[2]} bins of the chosen width but the model was fit on {model.n_bins_}; "
        "use recordings of the same duration (or slice them) and the same bin width"
    )


def plate_well_tensors(
    recordings,
    bin_width_s: float = 0.5,
    well_property: str | None = None,
    grid_shape=None,
    detect_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray]:
    """Binned wells of many recordings (or analyzers) of a plate.

    Parameters
    ----------
    recordings : dict | list | BaseRecording | SortingAnalyzer
        ``{name: recording or analyzer}`` (a list is named ``rec0, rec1, ...``).

    Returns
    -------
    X : np.ndarray, shape (num_wells_total, num_electrodes, num_bins)
        Recordings of different durations are cut to the shortest.
    index : pandas.DataFrame
        Columns ``recording``, ``well``.
    positions : np.ndarray, shape (num_electrodes, 2)
    """
    wells, rows = [], []
    for name, obj in _as_named(recordings).items():
        for w in _wells_of(obj, well_property, grid_shape, None, detect_kwargs, job_kwargs):
            wells.append(w)
            rows.append(dict(recording=name, well=w.well_id))
    X, positions = stack_wells(wells, bin_width_s)
    return X, pd.DataFrame(rows), positions


def _with_metadata(index: pd.DataFrame, metadata) -> pd.DataFrame:
    if metadata is None:
        return index
    meta = pd.DataFrame(metadata).copy() if not isinstance(metadata, pd.DataFrame) else metadata.copy()
    if not isinstance(metadata, pd.DataFrame):
        meta = pd.DataFrame.from_dict(metadata, orient="index")
        meta.index.name = "recording"
    if "recording" not in meta.columns and "well" not in meta.columns:
        meta = meta.reset_index().rename(columns={"index": "recording"})
        if "recording" not in meta.columns:
            meta = meta.rename(columns={meta.columns[0]: "recording"})
    keys = [k for k in ("recording", "well") if k in meta.columns]
    meta[keys] = meta[keys].astype(str)
    merged = index.merge(meta, on=keys, how="left")
    if len(merged) != len(index):
        raise ValueError("metadata has duplicated rows for some (recording, well)")
    return merged


def compute_plate_embeddings(
    recordings,
    model: RollAE | None = None,
    bin_width_s: float = 0.5,
    metadata=None,
    well_property: str | None = None,
    grid_shape=None,
    fit_kwargs: dict | None = None,
    detect_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
    return_model: bool = False,
):
    """Roll-AE embeddings of every well of many recordings of a plate.

    Parameters
    ----------
    recordings : dict | list | BaseRecording | SortingAnalyzer
        ``{name: recording or analyzer}``; recordings give threshold peaks per electrode, analyzers give
        units on their main channel.
    model : RollAE | None
        Fitted model; ``None`` fits one on all wells given here (with ``fit_kwargs``).
    bin_width_s : float, default: 0.5
    metadata : pandas.DataFrame | dict | None
        Per recording (``{name: {"day": 7, "condition": "ctrl"}}``) or a DataFrame with columns
        ``recording`` and/or ``well`` plus any others; the other columns become index levels.
    well_property, grid_shape, detect_kwargs, job_kwargs :
        See :func:`plate_well_tensors`.
    return_model : bool, default: False

    Returns
    -------
    pandas.DataFrame
        One row per well, indexed by (``recording``, metadata columns..., ``well``), columns ``emb_i``.
        With ``return_model``: ``(dataframe, model)``.
    """
    X, index, positions = plate_well_tensors(recordings, bin_width_s, well_property, grid_shape, detect_kwargs, job_kwargs)
    model = _get_model(model, positions, fit_kwargs, X)
    emb = model.transform(_match_bins(X, model))
    index = _with_metadata(index, metadata)
    levels = ["recording"] + [c for c in index.columns if c not in ("recording", "well")] + ["well"]
    df = pd.DataFrame(emb, index=pd.MultiIndex.from_frame(index[levels]), columns=[f"emb_{i}" for i in range(emb.shape[1])])
    return (df, model) if return_model else df


def plate_neural_metrics(
    recordings,
    config: NeuralMetricsConfig | None = None,
    metadata=None,
    well_property: str | None = None,
    detect_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
) -> pd.DataFrame:
    """Axion-style neural metrics (from spike times, not bins) of every well of many recordings."""
    rows, index = [], []
    for name, obj in _as_named(recordings).items():
        for w in _wells_of(obj, well_property, None, None, detect_kwargs, job_kwargs):
            rows.append(neural_metrics(w.spike_times, w.duration, config))
            index.append(dict(recording=name, well=w.well_id))
    index = _with_metadata(pd.DataFrame(index), metadata)
    levels = ["recording"] + [c for c in index.columns if c not in ("recording", "well")] + ["well"]
    return pd.DataFrame(rows, index=pd.MultiIndex.from_frame(index[levels]))
