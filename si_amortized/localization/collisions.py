"""Overlapping spikes of a sorting: subtract the other units' templates before a spike is localized.

When spikes come from a sorting, each spike whose window overlaps another spike is localized from the
traces minus the scaled templates of the overlapping spikes; the others from the traces as they are.

No cleaned copy of the traces is made: the overlapping spikes' templates are subtracted from the values
the localizer actually cuts (the samples searched for the peak, the neighbourhood waveforms), pair by pair
in compiled loops (:class:`TemplateTerms`), so the cost follows the examples and the channels they read,
not the probe's channel count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .kernels import add_terms_all_channels, add_terms_slots, least_squares_scales

__all__ = ["overlap_pairs", "template_scales", "TemplateTerms"]


def overlap_pairs(target_times: np.ndarray, sample_index: np.ndarray, before: int, after: int,
                  target_index: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Pairs (target, other spike) with ``-before <= other's time - target's time <= after``.

    Parameters
    ----------
    target_times : np.ndarray, shape (num_targets,)
        Times of the spikes to look around.
    sample_index : np.ndarray, shape (num_spikes,)
        Times of every spike (any order), the targets among them.
    before, after : int
        Samples before and after a target's time.
    target_index : np.ndarray | None, shape (num_targets,)
        Index of each target in ``sample_index`` (left out of its own pairs); None: the targets are not
        among the spikes.

    Returns
    -------
    target : np.ndarray, shape (num_pairs,)
        Index into the targets, ascending.
    other : np.ndarray, shape (num_pairs,)
        Index into ``sample_index``.
    """
    times = np.asarray(sample_index, dtype=np.int64)
    order = np.argsort(times, kind="stable")
    ordered = times[order]
    centre = np.asarray(target_times, dtype=np.int64)
    lo = np.searchsorted(ordered, centre - before, side="left")
    hi = np.searchsorted(ordered, centre + after, side="right")
    counts = hi - lo
    target = np.repeat(np.arange(centre.size), counts)
    # position k of a target's run is spike ordered[lo + k]
    within = np.arange(target.size) - np.repeat(np.cumsum(counts) - counts, counts)
    other = order[np.repeat(lo, counts) + within]
    if target_index is not None:
        keep = other != np.asarray(target_index)[target]
        target, other = target[keep], other[keep]
    return target, other


def template_scales(
    traces: np.ndarray,
    sample_index: np.ndarray,
    unit_index: np.ndarray,
    templates: np.ndarray,
    nbefore: int,
    main_channels: np.ndarray,
    bounds: tuple = (0.5, 2.0),
) -> np.ndarray:
    """Amplitude of each spike relative to its unit's template: least squares on the unit's main channel.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels)
    sample_index, unit_index : np.ndarray, shape (num_spikes,)
    templates : np.ndarray, shape (num_units, num_template_samples, num_channels)
    nbefore : int
        Template sample of the spike time.
    main_channels : np.ndarray, shape (num_units,)
    bounds : tuple of float, default: (0.5, 2.0)
        The scale is clipped to this range (an overlapping spike on the same channel biases it).

    Returns
    -------
    np.ndarray, shape (num_spikes,)
        1.0 for a spike whose window leaves the traces.
    """
    scales = np.ones(np.asarray(sample_index).size)
    main_channels = np.asarray(main_channels, dtype=np.int64)
    templates = np.asarray(templates)
    main_templates = np.ascontiguousarray(templates[np.arange(templates.shape[0]), :, main_channels], dtype="float32")
    least_squares_scales(np.ascontiguousarray(traces, dtype="float32"),
                         np.asarray(sample_index, dtype=np.int64) - int(nbefore), np.asarray(unit_index, dtype=np.int64),
                         main_channels, main_templates, scales)
    return np.clip(scales, *bounds)


@dataclass(frozen=True)
class TemplateTerms:
    """Scaled templates to add to the traces where each spike's examples are cut.

    Spike ``i``'s terms are ``k in range(start[i], start[i + 1])``: ``weight[k] * templates[unit[k]]`` with
    the template's sample ``nbefore`` at trace sample ``time[k]``. Subtracting overlapping spikes is a
    negative weight.

    Attributes
    ----------
    start : np.ndarray, shape (num_spikes + 1,)
    time, unit : np.ndarray, shape (num_terms,), int64
    weight : np.ndarray, shape (num_terms,), float32
    templates : np.ndarray, shape (num_units, num_template_samples, num_channels), float32
    templates_by_channel : np.ndarray, shape (num_units, num_channels, num_template_samples), float32
        The same, C-contiguous per channel.
    nbefore : int
        Template sample of the spike time.
    """

    start: np.ndarray
    time: np.ndarray
    unit: np.ndarray
    weight: np.ndarray
    templates: np.ndarray
    templates_by_channel: np.ndarray
    nbefore: int

    @classmethod
    def from_pairs(cls, num_spikes: int, spike: np.ndarray, time: np.ndarray, unit: np.ndarray,
                   weight: np.ndarray, templates: np.ndarray, nbefore: int,
                   templates_by_channel: np.ndarray | None = None) -> "TemplateTerms":
        """Terms from (spike, time, unit, weight) rows, ``spike`` ascending.

        ``templates_by_channel``: ``templates`` transposed to (units, channels, samples), when already made.
        """
        start = np.zeros(num_spikes + 1, dtype=np.int64)
        np.cumsum(np.bincount(np.asarray(spike, dtype=np.int64), minlength=num_spikes), out=start[1:])
        templates = np.ascontiguousarray(templates, dtype="float32")
        if templates_by_channel is None:
            templates_by_channel = np.ascontiguousarray(np.transpose(templates, (0, 2, 1)))
        return cls(start, np.asarray(time, np.int64), np.asarray(unit, np.int64), np.asarray(weight, "float32"),
                   templates, templates_by_channel, int(nbefore))

    def add_to(self, values: np.ndarray, spikes: np.ndarray, starts: np.ndarray,
               channels: np.ndarray | None = None) -> None:
        """Add each row's spike's terms to values cut from the traces, in place.

        Parameters
        ----------
        values : np.ndarray, float32, C-contiguous
            (num_rows, num_times, num_channels) when ``channels`` is None, else (num_rows, K, num_times).
        spikes : np.ndarray, shape (num_rows,)
            Spike of each row.
        starts : np.ndarray, shape (num_rows,)
            Trace sample of each row's first time.
        channels : np.ndarray | None, shape (num_rows, K)
            Channel of each slot of each row, -1 where the slot is virtual (left as is).
        """
        if values.dtype != np.float32 or not values.flags.c_contiguous:
            raise ValueError("values must be a C-contiguous float32 array")
        spikes = np.ascontiguousarray(spikes, dtype=np.int64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        if channels is None:
            add_terms_all_channels(values, spikes, starts, self.start, self.time, self.unit, self.weight,
                                    self.templates, self.nbefore)
        else:
            add_terms_slots(values, spikes, starts, np.ascontiguousarray(channels, dtype=np.int64), self.start,
                             self.time, self.unit, self.weight, self.templates_by_channel, self.nbefore)
