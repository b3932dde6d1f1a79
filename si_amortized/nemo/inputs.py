"""NEMO inputs from SpikeInterface objects: ACG images from a sorting, normalized waveforms from templates."""

from __future__ import annotations

import warnings

import numpy as np

from .acg import acg_images_from_linear_acgs, compute_acg_images
from .config import ACGConfig, NemoConfig, WaveformConfig
from .waveforms import normalize_templates

__all__ = [
    "acg_images_from_sorting",
    "acg_images_from_acgs_3d",
    "waveforms_from_analyzer",
    "prepare_inputs",
    "inputs_from_arrays",
    "inputs_from_analyzers",
    "usable_units",
    "METRIC_EXTENSIONS",
    "unit_metrics",
]

#: SpikeInterface extensions whose numeric columns ``nemo_embeddings(features="nemo+metrics")`` appends.
METRIC_EXTENSIONS = ("template_metrics", "spiketrain_metrics")


def _segment_num_samples(sorting, sorting_analyzer=None) -> list[int]:
    num_segments = sorting.get_num_segments()
    if sorting_analyzer is not None:
        return [int(sorting_analyzer.get_num_samples(s)) for s in range(num_segments)]
    if sorting.has_recording():
        rec = sorting._recording
        return [int(rec.get_num_samples(s)) for s in range(num_segments)]
    spikes = sorting.to_spike_vector()
    out = []
    for s in range(num_segments):
        seg = spikes["sample_index"][spikes["segment_index"] == s]
        out.append(int(seg.max()) + 1 if seg.size else 0)
    return out


def acg_images_from_sorting(sorting, config: ACGConfig = ACGConfig(), sorting_analyzer=None, unit_ids=None) -> np.ndarray:
    """3D ACG images of the units of a sorting.

    Parameters
    ----------
    sorting : BaseSorting
    config : ACGConfig
    sorting_analyzer : SortingAnalyzer | None, default: None
        Gives the segment durations; otherwise the sorting's registered recording, else the last spike.
    unit_ids : list | None, default: None
        Units to compute (default: all), in that order.

    Returns
    -------
    np.ndarray, shape (num_units, num_rate_bins, num_log_bins)
    """
    if unit_ids is not None:
        sorting = sorting.select_units(list(unit_ids))
    spikes = sorting.to_spike_vector()
    return compute_acg_images(
        spikes["sample_index"],
        spikes["unit_index"],
        spikes["segment_index"],
        len(sorting.unit_ids),
        sorting.sampling_frequency,
        _segment_num_samples(sorting, sorting_analyzer),
        config,
    )


def acg_images_from_acgs_3d(sorting_analyzer, config: ACGConfig = ACGConfig()) -> np.ndarray:
    """Log-axis ACG images from an analyzer's existing ``acgs_3d`` extension (computed with
    ``window_ms >= config.window_ms`` and ``num_firing_rate_quantiles == config.num_rate_bins``).

    SpikeInterface's rate bins and edge handling differ slightly from :func:`compute_acg_images` (its top
    rate bin holds 2/11 of the spikes; triggers near the end see a zero-padded train), so the images agree
    approximately, not exactly; :func:`acg_images_from_sorting` is much faster for a 2 s window anyway.
    """
    ext = sorting_analyzer.get_extension("acgs_3d")
    if ext is None:
        raise ValueError("compute the 'acgs_3d' extension first (window_ms=2000)")
    if ext.params["num_firing_rate_quantiles"] != config.num_rate_bins:
        raise ValueError("acgs_3d was computed with a different number of firing-rate bins")
    acgs, _, _ = ext.get_data()
    return acg_images_from_linear_acgs(acgs, ext.params["bin_ms"], config)


def waveforms_from_analyzer(sorting_analyzer, config: WaveformConfig = WaveformConfig(), unit_ids=None) -> np.ndarray:
    """Normalised template waveforms from the analyzer's ``templates`` extension (average).

    Returns
    -------
    np.ndarray, shape (num_units, num_channels, num_samples)
    """
    ext = sorting_analyzer.get_extension("templates")
    if ext is None:
        raise ValueError("compute the 'templates' extension first (random_spikes + templates)")
    templates = ext.get_templates(unit_ids=unit_ids, operator="average")
    templates = finite_channels_only(templates, sorting_analyzer.channel_ids)
    return normalize_templates(
        templates,
        sorting_analyzer.sampling_frequency,
        ext.nbefore,
        config,
        channel_locations=sorting_analyzer.get_channel_locations(),
    )


def finite_channels_only(templates: np.ndarray, channel_ids) -> np.ndarray:
    """Templates with non-finite channels set to zero (so no peak channel is picked there), with a warning.

    Parameters
    ----------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
    channel_ids : array-like, shape (num_channels,)
    """
    bad = ~np.isfinite(templates).all(axis=(0, 1)) if templates.shape[0] else np.zeros(templates.shape[2], bool)
    if not bad.any():
        return templates
    warnings.warn(
        f"channels {list(np.asarray(channel_ids)[bad])} have non-finite templates: NEMO ignores them "
        "(peak channels are picked among the others)"
    )
    return np.where(bad[None, None, :], 0.0, templates)


def prepare_inputs(sorting_analyzer, config: NemoConfig = NemoConfig(), unit_ids=None):
    """ACG images ``(num_units, 10, 101)`` and waveforms ``(num_units, num_channels, 90)`` of an analyzer."""
    acg = acg_images_from_sorting(sorting_analyzer.sorting, config.acg, sorting_analyzer, unit_ids)
    wf = waveforms_from_analyzer(sorting_analyzer, config.waveform, unit_ids)
    return acg, wf


def inputs_from_arrays(
    sample_index: np.ndarray,
    unit_index: np.ndarray,
    num_units: int,
    num_samples: int,
    templates: np.ndarray,
    nbefore: int,
    sampling_frequency: float,
    config: NemoConfig = NemoConfig(),
    channel_locations: np.ndarray | None = None,
):
    """ACG images and normalized waveforms of units given as arrays (one segment), as :func:`prepare_inputs`
    gives them for an analyzer.

    Parameters
    ----------
    sample_index, unit_index : np.ndarray, shape (num_spikes,)
        Spike trains, sorted by time.
    num_units : int
    num_samples : int
        Length of the segment.
    templates : np.ndarray, shape (num_units, num_template_samples, num_channels)
    nbefore : int
        Template sample of the spike time.
    sampling_frequency : float
    config : NemoConfig
    channel_locations : np.ndarray | None, shape (num_channels, 2)
        Needed for ``config.waveform.num_channels > 1``.

    Returns
    -------
    acg : np.ndarray, shape (num_units, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units, num_channels, num_samples)
    """
    unit_index = np.asarray(unit_index)
    acg = compute_acg_images(sample_index, unit_index, np.zeros_like(unit_index), int(num_units),
                             float(sampling_frequency), [int(num_samples)], config.acg)
    wf = normalize_templates(templates, float(sampling_frequency), int(nbefore), config.waveform,
                             channel_locations=channel_locations)
    return acg, wf


def usable_units(unit_ids, spike_counts: np.ndarray, waveforms: np.ndarray, min_spikes: int) -> np.ndarray:
    """Which units NEMO can embed; warns naming the others.

    Parameters
    ----------
    unit_ids : array-like, shape (num_units,)
    spike_counts : np.ndarray, shape (num_units,)
    waveforms : np.ndarray, shape (num_units, num_channels, num_samples)
        Normalised template waveforms (:func:`~si_amortized.nemo.prepare_inputs`).
    min_spikes : int

    Returns
    -------
    np.ndarray of bool, shape (num_units,)
    """
    unit_ids = np.asarray(unit_ids)
    few = np.asarray(spike_counts) < min_spikes
    flat = waveforms.reshape(len(unit_ids), -1)
    empty = ~np.isfinite(flat).any(axis=1) | (np.nan_to_num(np.abs(flat)).max(axis=1) == 0)
    if few.any():
        warnings.warn(f"units {list(unit_ids[few])} have fewer than min_spikes={min_spikes} spikes: NaN embeddings")
    if (empty & ~few).any():
        warnings.warn(f"units {list(unit_ids[empty & ~few])} have zero or non-finite templates: NaN embeddings")
    return ~(few | empty)


def _numeric_columns(table) -> list[str]:
    """Columns of a metrics table that hold numbers (NaN allowed); bool and text columns are left out.

    SpikeInterface leaves a column of a metric that failed for some units as ``object`` (its integer cast
    fails on NaN): such a column counts as numeric when every value converts to a number.
    """
    import pandas as pd
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    keep = []
    for name in table.columns:
        column = table[name]
        if is_bool_dtype(column):
            continue
        if is_numeric_dtype(column):
            keep.append(name)
            continue
        try:
            pd.to_numeric(column, errors="raise")
        except (TypeError, ValueError):
            continue
        keep.append(name)
    return keep


def _metrics_table(sorting_analyzer, extension_name: str):
    """The analyzer's metrics table ``extension_name``, or one computed from it but not attached to it."""
    from spikeinterface.core.sortinganalyzer import get_extension_class

    ext = sorting_analyzer.get_extension(extension_name)
    if ext is None:
        ext = get_extension_class(extension_name)(sorting_analyzer)
        ext.set_params(save=False)
        ext.run(save=False)
    return ext.get_data()


def unit_metrics(sorting_analyzer, unit_ids=None, extensions=METRIC_EXTENSIONS) -> tuple[np.ndarray, list[str]]:
    """SpikeInterface's hand-crafted unit metrics as one array: the numeric columns of ``template_metrics``
    and ``spiketrain_metrics``.

    The analyzer's own extensions are used when present (whatever metrics and params they were computed
    with); an absent one is computed from the analyzer with default params without being attached to it,
    so a saved analyzer is left as it was (SpikeInterface 0.105.3 cannot reload a folder holding
    ``spiketrain_metrics``: its ``_handle_backward_compatibility_on_load`` raises NotImplementedError).

    Parameters
    ----------
    sorting_analyzer : SortingAnalyzer
        Needs ``templates`` for ``template_metrics``.
    unit_ids : list | None, default: None
        Units (default: all, in the analyzer's order), in that order.
    extensions : sequence of str, default: ("template_metrics", "spiketrain_metrics")

    Returns
    -------
    values : np.ndarray, shape (num_units, num_metrics)
        float64; metrics SpikeInterface could not compute for a unit stay NaN.
    names : list of str, length num_metrics
        Column names, in the extensions' order.
    """
    import pandas as pd

    ids = list(sorting_analyzer.unit_ids if unit_ids is None else unit_ids)
    blocks, names = [], []
    for name in extensions:
        table = _metrics_table(sorting_analyzer, name)
        columns = _numeric_columns(table)
        # rows by unit id (a zarr round trip can turn the index into strings)
        index = {str(uid): row for row, uid in enumerate(table.index)}
        try:
            rows = [index[str(uid)] for uid in ids]
        except KeyError as error:
            raise ValueError(f"the analyzer's {name} has no row for unit {error.args[0]!r}") from None
        values = table[columns].iloc[rows].apply(pd.to_numeric, errors="coerce")
        values = values.to_numpy(dtype=np.float64, na_value=np.nan)
        blocks.append(values.reshape(len(ids), len(columns)))
        names.extend(str(c) for c in columns)
    return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(ids), 0)), names


def are_sorting_analyzers(obj) -> bool:
    """Whether ``obj`` is a SortingAnalyzer or a non-empty list / tuple of them (rather than arrays)."""
    from spikeinterface.core import SortingAnalyzer

    items = obj if isinstance(obj, (list, tuple)) else [obj]
    return len(items) > 0 and all(isinstance(a, SortingAnalyzer) for a in items)


def inputs_from_analyzers(sorting_analyzers, config: NemoConfig = NemoConfig(), compute_templates: bool = True):
    """Concatenated ACG images and waveforms of all units of one or several analyzers.

    Parameters
    ----------
    sorting_analyzers : SortingAnalyzer | list of SortingAnalyzer
    config : NemoConfig
    compute_templates : bool, default: True
        Compute ``random_spikes`` + ``templates`` where missing (needs the recording).

    Returns
    -------
    acg_images : np.ndarray, shape (num_units_total, num_rate_bins, num_log_bins)
    waveforms : np.ndarray, shape (num_units_total, num_channels, num_samples)
    analyzer_index : np.ndarray, shape (num_units_total,)
    """
    if not isinstance(sorting_analyzers, (list, tuple)):
        sorting_analyzers = [sorting_analyzers]
    acgs, wfs, which = [], [], []
    for i, analyzer in enumerate(sorting_analyzers):
        if not analyzer.has_extension("templates"):
            if not compute_templates:
                raise ValueError("analyzer has no 'templates' extension")
            analyzer.compute(["random_spikes", "templates"])
        acg, wf = prepare_inputs(analyzer, config)
        acgs.append(acg)
        wfs.append(wf)
        which.append(np.full(acg.shape[0], i))
    return np.concatenate(acgs), np.concatenate(wfs), np.concatenate(which)
