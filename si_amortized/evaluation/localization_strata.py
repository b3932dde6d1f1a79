"""Localization error against ground truth, per stratum of spikes (isolated, colliding, soma over the array or not).

One function computes (:func:`stratified_errors`), one formats (:func:`format_strata_table`): the
benchmark script and the report use both, so their figures agree.
"""

from __future__ import annotations

import numpy as np

from ..localization.calibration import coverage_unit_interval, posterior_coverage
from .formatting import format_number, markdown_table

#: Strata of :func:`spike_strata`, in table order.
STRATA = ("all", "isolated", "colliding", "inside", "outside", "isolated_inside")


def spike_strata(gt_sorting, channel_locations: np.ndarray, collision_ms: float = 1.0) -> dict:
    """Boolean masks over the spike vector of ``gt_sorting``.

    Parameters
    ----------
    gt_sorting : BaseSorting
        With the ``gt_unit_locations`` property (x, y in the probe plane, z the distance from it).
    channel_locations : np.ndarray, shape (num_channels, 2)
    collision_ms : float, default: 1.0
        A spike collides when another spike (of any unit, same segment) lies within this interval.

    Returns
    -------
    dict
        ``all``, ``isolated``, ``colliding``, ``inside`` (soma over the array's bounding box),
        ``outside``, ``isolated_inside``: arrays of shape (num_spikes,).
    """
    spikes = gt_sorting.to_spike_vector()
    soma = np.asarray(gt_sorting.get_property("gt_unit_locations"), dtype="float64")[spikes["unit_index"]]
    xy = np.asarray(channel_locations, dtype="float64")[:, :2]
    inside = np.all((soma[:, :2] >= xy.min(axis=0)) & (soma[:, :2] <= xy.max(axis=0)), axis=1)
    limit = collision_ms * gt_sorting.sampling_frequency / 1000.0
    colliding = np.zeros(spikes.size, dtype=bool)
    same_segment = spikes["segment_index"][1:] == spikes["segment_index"][:-1]
    close = (np.diff(spikes["sample_index"].astype(np.int64)) < limit) & same_segment
    colliding[1:] |= close
    colliding[:-1] |= close
    return dict(
        all=np.ones(spikes.size, dtype=bool),
        isolated=~colliding,
        colliding=colliding,
        inside=inside,
        outside=~inside,
        isolated_inside=~colliding & inside,
    )


def stratified_errors(locations: np.ndarray, gt_sorting, strata: dict) -> dict:
    """Error of one method's per-spike locations in each stratum.

    Parameters
    ----------
    locations : np.ndarray, shape (num_spikes,)
        Structured, fields ``x``, ``y`` and optionally ``z`` (distance from the plane) and ``x_std``,
        ``y_std``, ``z_std``, in the order of ``gt_sorting.to_spike_vector()``.
    gt_sorting : BaseSorting
    strata : dict
        From :func:`spike_strata`.

    Returns
    -------
    dict
        Per stratum: ``mean_2d``, ``median_2d`` (um, finite spikes), ``num_spikes``; and when the method
        reports z: ``mean_abs_z`` (um) and ``z_unit_correlation`` (over units: the median z of a unit's
        spikes against its soma's distance); when it reports standard deviations: ``coverage_1sd`` and
        ``coverage_2sd`` (per axis, x, y, z), and on ``"all"`` their 95 % intervals over resamples of whole
        units, ``coverage_1sd_interval`` and ``coverage_2sd_interval`` (per axis, [low, high]: how far the
        recording's own units move the coverage; see :func:`coverage_unit_interval`). Plus
        ``num_non_finite`` over all spikes.
    """
    spikes = gt_sorting.to_spike_vector()
    units = spikes["unit_index"]
    gt_units = np.asarray(gt_sorting.get_property("gt_unit_locations"), dtype="float64")
    soma = gt_units[units]
    names = locations.dtype.names
    error = np.hypot(locations["x"] - soma[:, 0], locations["y"] - soma[:, 1])
    finite = np.isfinite(error)
    has_z = "z" in names
    has_std = all(f"{a}_std" in names for a in "xy")
    out = dict(num_non_finite=int(np.sum(~finite)))
    for stratum, mask in strata.items():
        keep = mask & finite
        row = dict(num_spikes=int(np.sum(mask)))
        row["mean_2d"] = float(np.mean(error[keep])) if keep.any() else np.nan
        row["median_2d"] = float(np.median(error[keep])) if keep.any() else np.nan
        if has_z:
            z = np.asarray(locations["z"], dtype="float64")
            z_keep = mask & np.isfinite(z)
            row["mean_abs_z"] = float(np.mean(np.abs(z[z_keep] - soma[z_keep, 2]))) if z_keep.any() else np.nan
            present = np.unique(units[z_keep])
            if present.size >= 3:
                medians = np.array([np.median(z[z_keep & (units == u)]) for u in present])
                row["z_unit_correlation"] = float(np.corrcoef(medians, gt_units[present, 2])[0, 1])
            else:
                row["z_unit_correlation"] = np.nan
        if has_std:
            axes = "xyz" if has_z and "z_std" in names else "xy"
            est = np.column_stack([locations[a] for a in axes])[mask]
            std = np.column_stack([locations[f"{a}_std"] for a in axes])[mask]
            coverage = posterior_coverage(est, std, soma[mask][:, : len(axes)])
            row["coverage_1sd"] = [float(v) for v in coverage[0]]
            row["coverage_2sd"] = [float(v) for v in coverage[1]]
            if stratum == "all":
                low, high = coverage_unit_interval(est, std, soma[mask][:, : len(axes)], units[mask])
                for level, name in enumerate(("coverage_1sd_interval", "coverage_2sd_interval")):
                    row[name] = [[float(lo), float(hi)] for lo, hi in zip(low[level], high[level])]
        out[stratum] = row
    return out


def format_strata_table(results: dict, strata: tuple = STRATA) -> str:
    """Markdown table, one row per method: mean (median) 2D error per stratum, then z and coverage on all spikes.

    Parameters
    ----------
    results : dict
        Method name -> :func:`stratified_errors` output.
    strata : tuple of str, default: STRATA
    """
    header = ["method"] + [f"{s} mean (median)" for s in strata] + ["abs z", "z corr", "coverage 1 / 2 sd (x, y)"]
    rows = []
    for name, res in results.items():
        cells = [name]
        for s in strata:
            row = res.get(s, {})
            cells.append(f"{format_number(row.get('mean_2d'), 2)} ({format_number(row.get('median_2d'), 2)})")
        everything = res.get("all", {})
        cells.append(format_number(everything.get("mean_abs_z"), 2) if "mean_abs_z" in everything else "-")
        cells.append(format_number(everything.get("z_unit_correlation"), 2) if "z_unit_correlation" in everything else "-")
        if "coverage_1sd" in everything:
            c1, c2 = everything["coverage_1sd"], everything["coverage_2sd"]
            cells.append(f"{c1[0]:.2f}, {c1[1]:.2f} / {c2[0]:.2f}, {c2[1]:.2f}")
        else:
            cells.append("-")
        rows.append(cells)
    return "\n".join(markdown_table(header, rows)).rstrip()


def format_coverage_table(results: dict) -> str:
    """Markdown table of posterior coverage on all spikes, with the interval that the recording's units allow.

    Parameters
    ----------
    results : dict
        Method name -> :func:`stratified_errors` output; methods without standard deviations are left out.
    """
    header, rows = ["method", "axis", "within 1 sd (target 0.68)", "within 2 sd (target 0.95)"], []
    for name, res in results.items():
        everything = res.get("all", {})
        if "coverage_1sd_interval" not in everything:
            continue
        for axis, letter in enumerate("xyz"[: len(everything["coverage_1sd"])]):
            cells = [name, letter]
            for level in ("1sd", "2sd"):
                low, high = everything[f"coverage_{level}_interval"][axis]
                cells.append(f"{everything[f'coverage_{level}'][axis]:.2f} [{low:.2f}, {high:.2f}]")
            rows.append(cells)
    return "\n".join(markdown_table(header, rows)).rstrip()


def summarize_across_recordings(tables: dict, stratum: str = "all") -> dict:
    """Each method's mean 2D error on every recording, and its mean and range over them.

    A recording of 28-50 cells is a small sample: between recordings of the same settings a localizer's mean
    error moves by more than most differences between training choices, so benchmark figures are read
    across several seeds. A method's mean and range are only given when it ran on every recording.

    Parameters
    ----------
    tables : dict
        Recording label -> (method name -> :func:`stratified_errors` output).
    stratum : str, default: "all"

    Returns
    -------
    dict
        Method name -> ``per_recording`` (recording label -> mean 2D error, NaN where the method did not run),
        and, when it ran on all of them, ``mean``, ``min`` and ``max`` over the recordings.
    """
    methods = list(dict.fromkeys(m for table in tables.values() for m in table))
    out = {}
    for method in methods:
        per_recording = {
            label: float(table[method][stratum]["mean_2d"]) if method in table else float("nan")
            for label, table in tables.items()
        }
        values = np.array(list(per_recording.values()), dtype="float64")
        row = dict(per_recording=per_recording)
        if values.size and np.all(np.isfinite(values)):
            row.update(mean=float(values.mean()), min=float(values.min()), max=float(values.max()))
        out[method] = row
    return out


def format_across_recordings(summary: dict) -> str:
    """Markdown table of :func:`summarize_across_recordings`: one row per method, one column per recording,
    then the mean and the range over recordings."""
    labels = list(next(iter(summary.values()))["per_recording"]) if summary else []
    header = ["method"] + labels + ["mean", "range"]
    rows = []
    for method, row in summary.items():
        cells = [method] + [format_number(row["per_recording"][label], 2) for label in labels]
        if "mean" in row:
            cells += [format_number(row["mean"], 2), f"{row['min']:.2f}-{row['max']:.2f}"]
        else:
            cells += ["-", "-"]
        rows.append(cells)
    return "\n".join(markdown_table(header, rows)).rstrip()
