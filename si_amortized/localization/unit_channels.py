"""Each unit's main channel and polarity from its average waveform, among channels with finite traces.

SpikeInterface's main channel can be a channel whose traces are NaN (a dead channel), and the spikes of a
recording with inverted gain peak upwards; both put the VAE's spikes in the wrong place without an error.
This module averages a small random subset of each unit's spikes (ignoring non-finite samples) and
returns what the localizer should use.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["UnitChannels", "unit_channels", "resolve_peak_sign"]

#: With ``peak_sign="auto"``: below this share of units with a positive main peak the spikes are taken
#: as negative, above one minus it as positive, in between as mixed ("both").
AUTO_SIGN_SHARE = 0.1


@dataclass(frozen=True)
class UnitChannels:
    """Main channels and polarity of the units of an analyzer.

    Parameters
    ----------
    main_channel_indices : np.ndarray, shape (num_units,)
        The analyzer's main channel, or the largest finite channel where that one is not finite.
    positive : np.ndarray, shape (num_units,)
        Whether the unit's average waveform peaks upwards on its main channel.
    finite_channels : np.ndarray, shape (num_channels,)
        Channels whose average waveforms are finite for every unit.
    repicked_units : np.ndarray
        Unit ids whose main channel was replaced.
    trough_channel_indices, peak_channel_indices : np.ndarray, shape (num_units,)
        The finite channel with the unit's deepest trough / highest peak.
    """

    main_channel_indices: np.ndarray
    positive: np.ndarray
    finite_channels: np.ndarray
    repicked_units: np.ndarray
    trough_channel_indices: np.ndarray
    peak_channel_indices: np.ndarray

    def centre_channels(self, peak_sign: str) -> np.ndarray:
        """The channel each unit's spikes are localized around, for a resolved ``peak_sign``.

        ``"neg"``: the deepest trough. SpikeInterface's main channel is the largest deflection of either
        sign, which for some cells is a positive return current on channels far from the soma (dendrites):
        centred there, the neighbourhood misses the soma. ``"pos"``: the highest peak; ``"both"``: the main
        channel.
        """
        if peak_sign == "neg":
            return self.trough_channel_indices
        if peak_sign == "pos":
            return self.peak_channel_indices
        return self.main_channel_indices


def _average_waveforms(sorting_analyzer, max_spikes_per_unit: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """NaN-ignoring average waveforms and the share of non-finite samples per channel.

    The analyzer's ``templates`` extension, when computed and finite everywhere, is used as it is: its
    average already covers a random subset of spikes, and a single non-finite sample read would have made it
    non-finite. Otherwise snippets are read.

    Returns
    -------
    templates : np.ndarray, shape (num_units, num_samples, num_channels)
        Mean over a random subset of each unit's spikes, ignoring non-finite samples (NaN where all are).
    non_finite : np.ndarray, shape (num_channels,)
        Share of non-finite samples in the snippets read, per channel.
    """
    from spikeinterface.core.sorting_tools import random_spikes_selection

    extension = sorting_analyzer.get_extension("templates")
    if extension is not None and "average" in extension.params.get("operators", []):
        average = extension.get_data(operator="average")
        if np.isfinite(average).all():
            return np.asarray(average), np.zeros(average.shape[2])
    recording = sorting_analyzer.recording
    sorting = sorting_analyzer.sorting
    half = int(round(1.0e-3 * recording.sampling_frequency))
    num_samples = [recording.get_num_samples(s) for s in range(recording.get_num_segments())]
    keep = random_spikes_selection(sorting, num_samples, method="uniform", max_spikes_per_unit=max_spikes_per_unit,
                                   margin_size=half + 1, seed=seed)
    spikes = sorting.to_spike_vector()[keep]
    num_units, num_channels = len(sorting.unit_ids), recording.get_num_channels()
    sums = np.zeros((num_units, 2 * half, num_channels))
    counts = np.zeros((num_units, 2 * half, num_channels))
    for spike in spikes:
        start = int(spike["sample_index"]) - half
        snippet = recording.get_traces(segment_index=int(spike["segment_index"]), start_frame=start,
                                       end_frame=start + 2 * half, return_in_uV=recording.has_scaleable_traces())
        finite = np.isfinite(snippet)
        sums[spike["unit_index"]] += np.where(finite, snippet, 0.0)
        counts[spike["unit_index"]] += finite
    with np.errstate(invalid="ignore", divide="ignore"):
        templates = sums / counts
    total = counts.sum(axis=(0, 1))
    non_finite = 1.0 - total / max(len(spikes) * 2 * half, 1)
    return templates, non_finite


def unit_channels(sorting_analyzer, max_spikes_per_unit: int = 50, seed: int = 0) -> UnitChannels:
    """Main channel (finite) and polarity of each unit of ``sorting_analyzer``.

    A channel counts as dead when over half the samples read from it are not finite. Averages ignore
    non-finite samples, so a short NaN burst does not hide a unit's peak.

    Parameters
    ----------
    sorting_analyzer : SortingAnalyzer
        Needs its recording.
    max_spikes_per_unit : int, default: 50
        Spikes averaged per unit.
    seed : int, default: 0

    Returns
    -------
    UnitChannels

    Raises
    ------
    ValueError
        When every channel is dead.
    """
    templates, non_finite = _average_waveforms(sorting_analyzer, max_spikes_per_unit, seed)
    finite = non_finite <= 0.5
    channel_ids = np.asarray(sorting_analyzer.channel_ids)
    if not finite.any():
        raise ValueError("every channel has non-finite (NaN / inf) traces: nothing to localize from")
    if not np.isfinite(templates).all():
        templates = np.nan_to_num(templates)
    # one pass for each extremum over time; every channel statistic below comes from them
    lowest, highest = templates.min(axis=1), templates.max(axis=1)  # (num_units, num_channels)
    lowest, highest = np.where(finite, lowest, 0.0), np.where(finite, highest, 0.0)  # dead channels read as 0
    main = np.asarray(sorting_analyzer.main_channel_indices).copy()
    bad = ~finite[main]
    main[bad] = np.argmax(np.maximum(highest, -lowest)[bad], axis=1)  # the largest |deflection|
    repicked = np.asarray(sorting_analyzer.unit_ids)[bad]
    if repicked.size:
        warnings.warn(
            f"channels {list(channel_ids[~finite])} have non-finite traces; the main channel of units "
            f"{list(repicked)} was one of them and is now their largest finite channel"
        )
    main_waveforms = templates[np.arange(main.size), :, main]  # (num_units, num_samples)
    extremum = main_waveforms[np.arange(main.size), np.argmax(np.abs(main_waveforms), axis=1)]
    return UnitChannels(main, extremum > 0, finite, repicked, np.argmin(lowest, axis=1), np.argmax(highest, axis=1))


def resolve_peak_sign(peak_sign: str, positive: np.ndarray) -> str:
    """``"neg"``, ``"pos"`` or ``"both"``: ``peak_sign`` itself unless it is ``"auto"``.

    Parameters
    ----------
    peak_sign : "auto" | "neg" | "pos" | "both"
    positive : np.ndarray of bool, shape (num_units,)
        Whether each unit's main peak is positive (:func:`unit_channels`).
    """
    if peak_sign != "auto":
        return peak_sign
    share = float(np.mean(positive)) if positive.size else 0.0
    if share <= AUTO_SIGN_SHARE:
        return "neg"
    if share >= 1.0 - AUTO_SIGN_SHARE:
        return "pos"
    return "both"
