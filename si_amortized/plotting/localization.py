"""Spike locations over the probe, coloured by unit, beside the ground-truth somas when known."""

from __future__ import annotations

import numpy as np


def plot_spike_locations(
    sorting_analyzer,
    extension_name: str = "vae_locations",
    unit_ids=None,
    max_spikes_per_unit: int | None = 500,
    show_ground_truth: bool = True,
    ax=None,
    seed: int = 0,
    marker_size: float = 3.0,
):
    """Scatter per-spike locations over the probe contacts, one colour per unit.

    Parameters
    ----------
    sorting_analyzer : SortingAnalyzer
        With the ``extension_name`` extension computed (``"vae_locations"`` or ``"spike_locations"``).
    extension_name : str, default: "vae_locations"
    unit_ids : list | None, default: None
        Units to draw (all by default).
    max_spikes_per_unit : int | None, default: 500
        Random subset per unit, to keep the figure light; None draws all.
    show_ground_truth : bool, default: True
        Draw the sorting's ``gt_unit_locations`` property (MEArec somas), as black-edged stars in the
        units' colours, when it exists.
    ax : matplotlib.axes.Axes | None, default: None
    seed : int, default: 0
    marker_size : float, default: 3.0

    Returns
    -------
    matplotlib.axes.Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 6))
    locations = sorting_analyzer.get_extension(extension_name).get_data()
    sorting = sorting_analyzer.sorting
    spikes = sorting.to_spike_vector()
    all_units = sorting_analyzer.unit_ids
    unit_ids = all_units if unit_ids is None else list(unit_ids)
    contacts = sorting_analyzer.get_channel_locations()
    ax.scatter(contacts[:, 0], contacts[:, 1], marker="s", s=20, color="0.85", edgecolor="0.6", zorder=0, label="contacts")
    cmap = plt.get_cmap("tab20")
    rng = np.random.default_rng(seed)
    gt = sorting.get_property("gt_unit_locations") if show_ground_truth else None
    for i, unit_id in enumerate(unit_ids):
        unit_index = int(np.flatnonzero(all_units == unit_id)[0])
        idx = np.flatnonzero(spikes["unit_index"] == unit_index)
        if max_spikes_per_unit is not None and idx.size > max_spikes_per_unit:
            idx = np.sort(rng.choice(idx, max_spikes_per_unit, replace=False))
        color = cmap(i % 20)
        ax.scatter(locations["x"][idx], locations["y"][idx], s=marker_size, color=color, alpha=0.5, linewidths=0)
        if gt is not None:
            ax.scatter(gt[unit_index, 0], gt[unit_index, 1], marker="*", s=150, color=color, edgecolor="k", zorder=3)
    ax.set_xlabel("x (um)")
    ax.set_ylabel("y (um)")
    ax.set_aspect("equal")
    title = f"{extension_name} ({len(unit_ids)} units)"
    if gt is not None:
        title += ", stars: ground-truth somas"
    ax.set_title(title)
    return ax
