"""Channel neighbourhoods with virtual channels, and per-spike examples cut from traces.

A neighbourhood is a fixed, ordered list of *slots*: offsets (in micrometres, in the probe plane)
from the centre channel. For a centre channel, a slot is *observed* when a real channel sits at
that offset, and *virtual* otherwise (zero waveform, observed flag 0). The slots are the union of
the offsets seen from every channel, so an edge or corner channel keeps the centred layout of an
interior channel, the missing part being virtual; this is the paper's tiling of the layout
around the array, for any 2D geometry.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
from scipy.spatial import cKDTree

from .config import FeatureConfig
from .kernels import cut_projected_with_jitter, finish_examples, gather_windows, peak_search_traces

MAX_SLOTS = 400


@dataclass(frozen=True)
class Neighbourhood:
    """Slot layout of a probe.

    Attributes
    ----------
    offsets : np.ndarray, shape (num_slots, 2)
        Slot offsets from the centre channel, micrometres.
    channel_table : np.ndarray, shape (num_channels, num_slots)
        Index of the real channel in each slot of each centre channel, -1 for a virtual channel.
    centre_slot : int
        Slot of offset (0, 0).
    free_axes : np.ndarray, shape (3,)
        1.0 for the axes (x, y, z) that the geometry can resolve. On a probe whose contacts all share
        one coordinate (1D linear probe) that in-plane axis is 0: the distance to the line is then
        carried by z alone.
    """

    offsets: np.ndarray
    channel_table: np.ndarray
    centre_slot: int
    free_axes: np.ndarray

    @property
    def num_slots(self) -> int:
        return self.offsets.shape[0]


def build_neighbourhood(
    channel_locations: np.ndarray,
    half_width_um: float,
    shape: str = "square",
    offset_tolerance_um: float = 1.0,
    groups: np.ndarray | None = None,
) -> Neighbourhood:
    """Build the slot layout of a 2D probe.

    Parameters
    ----------
    channel_locations : np.ndarray, shape (num_channels, 2)
        Contact positions in micrometres (a 3rd column, if any, is ignored).
    half_width_um : float
        Half-width of the square, or radius of the disk.
    shape : "square" | "disk", default: "square"
    offset_tolerance_um : float, default: 1.0
        Offsets closer than this share a slot; a channel fills a slot when it is within this
        distance of the slot's position.
    groups : np.ndarray | None, default: None
        Group (shank) of each channel, shape (num_channels,): a neighbourhood never holds a channel of
        another group (those slots are virtual).

    Returns
    -------
    Neighbourhood
    """
    locs = np.asarray(channel_locations, dtype="float64")[:, :2]
    same_group = None if groups is None else np.asarray(groups)[:, None] == np.asarray(groups)[None, :]
    num_channels = locs.shape[0]
    if num_channels < 2:
        raise ValueError("VAE localization needs at least 2 channels")
    spread = np.ptp(locs, axis=0)
    flat = spread < offset_tolerance_um
    if flat.all():
        raise ValueError("All channels share one position: spikes cannot be localized")
    if not flat.any():
        centred = locs - locs.mean(axis=0)
        if np.linalg.matrix_rank(centred, tol=offset_tolerance_um) < 2:
            raise ValueError(
                "The contacts lie on one oblique line: only probes whose 1D layout is parallel to the x or y "
                "axis are supported (rotate the probe with probeinterface first)."
            )
    free_axes = np.array([0.0 if flat[0] else 1.0, 0.0 if flat[1] else 1.0, 1.0])

    diff = locs[None, :, :] - locs[:, None, :]  # (centre, other, 2)
    if shape == "square":
        inside = np.max(np.abs(diff), axis=2) <= half_width_um + 1e-6
    elif shape == "disk":
        inside = np.linalg.norm(diff, axis=2) <= half_width_um + 1e-6
    else:
        raise ValueError(f"shape must be 'square' or 'disk', not {shape!r}")
    if same_group is not None:
        inside &= same_group
    candidate = diff[inside]
    # greedy clustering of offsets on a tolerance grid, deterministic
    keys = np.round(candidate / offset_tolerance_um).astype(np.int64)
    _, first = np.unique(keys, axis=0, return_index=True)
    offsets = candidate[np.sort(first)]
    tree = cKDTree(offsets)
    merged = []
    taken = np.zeros(len(offsets), dtype=bool)
    for i in range(len(offsets)):
        if taken[i]:
            continue
        group = [j for j in tree.query_ball_point(offsets[i], offset_tolerance_um) if not taken[j]]
        taken[group] = True
        merged.append(offsets[group].mean(axis=0))
    offsets = np.asarray(merged)
    if len(offsets) > MAX_SLOTS:
        raise ValueError(
            f"The neighbourhood has {len(offsets)} distinct channel offsets (> {MAX_SLOTS}): the geometry is too "
            "irregular for a shared slot layout; use a smaller half_width_um or a larger offset_tolerance_um."
        )
    order = np.lexsort((np.round(offsets[:, 0], 3), np.round(offsets[:, 1], 3)))
    offsets = offsets[order]
    centre_slot = int(np.argmin(np.linalg.norm(offsets, axis=1)))
    offsets[centre_slot] = 0.0

    channel_tree = cKDTree(locs)
    targets = locs[:, None, :] + offsets[None, :, :]
    dist, idx = channel_tree.query(targets.reshape(-1, 2), distance_upper_bound=offset_tolerance_um)
    table = np.where(np.isfinite(dist), idx, -1).reshape(num_channels, len(offsets)).astype(np.int64)
    table[:, centre_slot] = np.arange(num_channels)
    if same_group is not None:
        table[(table >= 0) & ~same_group[np.arange(num_channels)[:, None], np.maximum(table, 0)]] = -1
    return Neighbourhood(offsets=offsets, channel_table=table, centre_slot=centre_slot, free_axes=free_axes)


def neighbourhood_from_config(
    channel_locations: np.ndarray, config: FeatureConfig, groups: np.ndarray | None = None
) -> Neighbourhood:
    """:func:`build_neighbourhood` with the fields of a :class:`FeatureConfig` (``groups``: shank per channel)."""
    return build_neighbourhood(
        channel_locations, config.half_width_um, shape=config.shape, offset_tolerance_um=config.offset_tolerance_um,
        groups=groups,
    )


@dataclass
class SpikeExamples:
    """Encoder inputs and decoder targets of a batch of spikes.

    Attributes
    ----------
    waveforms : np.ndarray, shape (num_examples, num_slots, num_samples)
        Sign-corrected waveforms (main peak negative), zero on virtual channels, in microvolts.
    observed : np.ndarray, shape (num_examples, num_slots)
        1.0 on real channels with finite traces, 0.0 on virtual channels.
    amplitudes : np.ndarray, shape (num_examples, num_slots)
        Non-negative amplitude (minus the negative peak near the trough), 0 on virtual channels.
    centre_channel : np.ndarray, shape (num_examples,)
        Channel index on which each example is centred.
    spike_index : np.ndarray, shape (num_examples,)
        Index (into the input spikes) of the spike of each example. Examples of one spike are contiguous.
    valid : np.ndarray, shape (num_spikes,)
        False for spikes that cannot be localized (no finite, non-zero amplitude).
    projected : bool, default: False
        True when ``waveforms`` holds each waveform's temporal components, shape (num_examples, num_slots, P)
        (:func:`compute_examples` with a ``temporal_basis``), as a model with ``temporal_components=P`` reads them.
    """

    waveforms: np.ndarray
    observed: np.ndarray
    amplitudes: np.ndarray
    centre_channel: np.ndarray
    spike_index: np.ndarray
    valid: np.ndarray
    projected: bool = False

    def select(self, mask: np.ndarray) -> "SpikeExamples":
        """Examples where ``mask`` (shape (num_examples,)) is True (``valid`` is kept as is)."""
        return SpikeExamples(
            self.waveforms[mask],
            self.observed[mask],
            self.amplitudes[mask],
            self.centre_channel[mask],
            self.spike_index[mask],
            self.valid,
            self.projected,
        )

    @staticmethod
    def concatenate(parts: list["SpikeExamples"]) -> "SpikeExamples":
        """Concatenate examples of disjoint spike sets, re-indexing ``spike_index``."""
        if len({p.projected for p in parts}) > 1:
            raise ValueError("cannot concatenate projected and raw waveforms")
        offset = 0
        spike_index = []
        for p in parts:
            spike_index.append(p.spike_index + offset)
            offset += p.valid.size
        return SpikeExamples(
            np.concatenate([p.waveforms for p in parts]),
            np.concatenate([p.observed for p in parts]),
            np.concatenate([p.amplitudes for p in parts]),
            np.concatenate([p.centre_channel for p in parts]),
            np.concatenate(spike_index),
            np.concatenate([p.valid for p in parts]),
            parts[0].projected if parts else False,
        )


def channel_neighbours_mask(
    channel_locations: np.ndarray, radius_um: float, groups: np.ndarray | None = None
) -> np.ndarray:
    """Boolean (num_channels, num_channels) mask of channels within ``radius_um`` of each other (same group)."""
    locs = np.asarray(channel_locations, dtype="float64")[:, :2]
    mask = np.linalg.norm(locs[:, None, :] - locs[None, :, :], axis=2) <= radius_um
    if groups is not None:
        mask &= np.asarray(groups)[:, None] == np.asarray(groups)[None, :]
    return mask


def find_peak_channels(
    traces: np.ndarray,
    sample_index: np.ndarray,
    channel_index: np.ndarray,
    candidates_mask: np.ndarray,
    search_samples: int = 1,
    peak_sign: str = "neg",
    terms=None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Peak channel, trough sample and polarity of each spike.

    The extremum is searched within +- ``search_samples`` of the spike time, among the candidate
    channels of the given channel.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels)
    sample_index : np.ndarray, shape (num_spikes,)
        Spike times, as indices into ``traces``.
    channel_index : np.ndarray, shape (num_spikes,)
        Channel given for each spike (detection channel or template main channel).
    candidates_mask : np.ndarray, shape (num_channels, num_channels)
    search_samples : int, default: 1
    peak_sign : "neg" | "pos" | "both", default: "neg"
    terms : TemplateTerms | None, default: None
        Templates added to the samples searched (:mod:`~si_amortized.localization.collisions`: the
        overlapping spikes' templates, subtracted).

    Returns
    -------
    peak_channel : np.ndarray, shape (num_spikes,)
    trough_sample : np.ndarray, shape (num_spikes,)
    sign : np.ndarray, shape (num_spikes,)
        +1 or -1: multiplying the traces by it makes the spike's main peak negative.
    """
    n = sample_index.size
    num_samples = traces.shape[0]
    if n == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0, dtype="float32")
    lags = np.arange(-search_samples, search_samples + 1)
    times = np.clip(sample_index[:, None] + lags[None, :], 0, num_samples - 1)
    chan, lag_i, sign = peak_search_traces(traces, times, channel_index, candidates_mask, peak_sign, terms,
                                           sample_index - search_samples)
    return chan, times[np.arange(n), lag_i].astype(np.int64), sign


def _amplitude_window(nbefore: int, nafter: int, window: int) -> tuple[int, int]:
    """Samples ``[lo, hi)`` of a ``nbefore + nafter`` waveform the amplitude is taken over: the trough +- ``window``."""
    return max(nbefore - window, 0), min(nbefore + window + 1, nbefore + nafter)


def _cut(traces, trough, sign, centres, table, nbefore, nafter, window, terms=None, spikes=None):
    """Waveforms, observed flags and amplitudes of examples centred on ``centres``.

    ``terms`` (with ``spikes``, the spike of each example): templates added to each spike's examples.
    """
    chans = table[centres]  # (e, K), -1 on virtual channels
    starts = trough - nbefore
    wf = gather_windows(traces, starts, chans, nbefore + nafter)
    if terms is not None:
        terms.add_to(wf, spikes, starts, chans)
    lo, hi = _amplitude_window(nbefore, nafter, window)
    observed, amps = finish_examples(wf, starts, sign, chans, traces.shape[0], lo, hi)
    return wf, observed, amps


def _waveform_examples(traces, trough, sign, peak_channel, neighbourhood, nbefore, nafter, window, terms, resample,
                       jitter_config):
    """:func:`compute_examples`' waveforms (not projected): each spike's peak-centred example, then its jitter ones.

    ``jitter_config``: the :class:`FeatureConfig` whose ``amp_jitter_uv`` and ``max_jitter_examples`` choose the
    extra examples (:func:`~si_amortized.localization.kernels.cut_projected_with_jitter`'s rule); None: none.
    """
    table = neighbourhood.channel_table

    def cut(spikes, centres):
        wf, observed, amps = _cut(traces, trough[spikes], sign[spikes], centres, table, nbefore, nafter, window,
                                  terms, spikes)
        return (wf @ resample.T if resample is not None else wf), observed, amps

    spike_index, centres = np.arange(trough.size), peak_channel
    wf, observed, amps = cut(spike_index, centres)
    if jitter_config is None:
        return wf, observed, amps, centres, spike_index
    # which channels also centre an example is decided on the peak-centred example's amplitudes
    top = amps.max(axis=1, keepdims=True)
    eligible = (observed > 0) & (amps >= top - jitter_config.amp_jitter_uv) & (amps > 0)
    eligible[:, neighbourhood.centre_slot] = False
    # keep the largest amplitudes first, at most max_jitter_examples - 1 extra per spike
    ranked = np.where(eligible, amps, -np.inf)
    order = np.argsort(-ranked, axis=1, kind="stable")[:, : jitter_config.max_jitter_examples - 1]
    keep = np.take_along_axis(eligible, order, axis=1)
    rows, cols = np.nonzero(keep)
    if rows.size == 0:
        return wf, observed, amps, centres, spike_index
    extra_centres = table[peak_channel[rows], order[rows, cols]]
    extra = cut(rows, extra_centres)
    # those of a spike contiguous, its peak-channel example first
    all_spikes = np.concatenate([spike_index, rows])
    order_all = np.argsort(all_spikes, kind="stable")
    centres = np.concatenate([peak_channel, extra_centres])[order_all]
    wf, observed, amps = (np.concatenate([a, b])[order_all] for a, b in zip((wf, observed, amps), extra))
    return wf, observed, amps, centres, all_spikes[order_all]


def compute_examples(
    traces: np.ndarray,
    sample_index: np.ndarray,
    channel_index: np.ndarray,
    neighbourhood: Neighbourhood,
    candidates_mask: np.ndarray,
    config: FeatureConfig,
    sampling_frequency: float,
    model_sampling_frequency: float | None = None,
    terms=None,
    temporal_basis: np.ndarray | None = None,
) -> SpikeExamples:
    """Cut the localizer's examples of a set of spikes from a block of traces.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels)
        Traces holding every spike with its window (zero-padded at recording borders).
    sample_index : np.ndarray, shape (num_spikes,)
        Spike times as indices into ``traces``.
    channel_index : np.ndarray, shape (num_spikes,)
        Channel given for each spike; the peak channel is searched around it.
    neighbourhood : Neighbourhood
    candidates_mask : np.ndarray, shape (num_channels, num_channels)
        See :func:`channel_neighbours_mask`.
    config : FeatureConfig
    sampling_frequency : float
        Of ``traces``.
    model_sampling_frequency : float | None, default: None
        Sampling frequency of the model's waveforms when it differs from the traces' (a model trained
        on a recording or simulation of another rate): the waveforms are resampled onto the model's time
        grid (:func:`resampling_matrix`); amplitudes are taken at the traces' rate. None: the traces'.
    terms : TemplateTerms | None, default: None
        Scaled templates added to the traces wherever a spike's examples are cut, indexed like
        ``sample_index`` (:mod:`~si_amortized.localization.collisions`: each spike's overlapping spikes,
        subtracted, so that it is localized as if alone).
    temporal_basis : np.ndarray | None, shape (P, num_model_samples), default: None
        A model's temporal components (``VaeLocalizer.temporal_basis``): the examples hold each waveform's
        projection on them (``projected=True``), made in one pass per example without the waveforms
        themselves (:func:`~si_amortized.localization.kernels.cut_projected`); inference only.

    Returns
    -------
    SpikeExamples
        One example centred on the peak channel per spike, then (amplitude jitter) one more per
        observed channel whose amplitude is within ``amp_jitter_uv`` of the spike's largest.
    """
    sample_index = np.asarray(sample_index, dtype=np.int64)
    channel_index = np.asarray(channel_index, dtype=np.int64)
    traces = np.ascontiguousarray(traces, dtype=np.float32)
    nbefore, nafter = waveform_samples(config, sampling_frequency)
    peak_channel, trough, sign = find_peak_channels(
        traces, sample_index, channel_index, candidates_mask, config.peak_search_samples, config.peak_sign, terms
    )
    n = sample_index.size
    table = neighbourhood.channel_table
    window = config.amplitude_window_samples
    lo, hi = _amplitude_window(nbefore, nafter, window)
    resampling = model_sampling_frequency is not None and model_sampling_frequency != sampling_frequency
    resample = resampling_matrix(config, sampling_frequency, model_sampling_frequency) if resampling else None
    if temporal_basis is not None:
        basis = np.asarray(temporal_basis, dtype="float32")
        if resampling:  # the components of the resampled waveform, a linear map of the traces' samples
            basis = basis @ resample
    jitter = config.amp_jitter_uv > 0 and config.max_jitter_examples > 1 and n > 0
    if temporal_basis is not None:  # one compiled pass per spike, its jitter examples while its window is cached
        wf, observed, amps, centres, spike_index = cut_projected_with_jitter(
            traces, trough - nbefore, sign, peak_channel, table, basis, lo, hi, neighbourhood.centre_slot,
            config.amp_jitter_uv, config.max_jitter_examples - 1 if jitter else 0, terms)
    else:
        wf, observed, amps, centres, spike_index = _waveform_examples(
            traces, trough, sign, peak_channel, neighbourhood, nbefore, nafter, window, terms, resample,
            config if jitter else None)
    first = np.ones(spike_index.size, dtype=bool)
    first[1:] = spike_index[1:] != spike_index[:-1]
    valid = np.zeros(n, dtype=bool)
    valid[spike_index[first]] = amps[first].max(axis=1, initial=0.0) > 0
    return SpikeExamples(wf, observed, amps, centres.astype(np.int64), spike_index.astype(np.int64), valid,
                         projected=temporal_basis is not None)


def waveform_samples(config: FeatureConfig, sampling_frequency: float) -> tuple[int, int]:
    """Samples before and after the trough: ``(nbefore, nafter)``."""
    nbefore = int(round(config.ms_before * sampling_frequency / 1000.0))
    nafter = int(round(config.ms_after * sampling_frequency / 1000.0))
    return max(nbefore, 1), max(nafter, 1)


#: Waveforms are resampled between sampling rates at most this factor apart.
MAX_RESAMPLING_RATIO = 2.0


def resampling_supported(from_frequency: float, to_frequency: float) -> bool:
    """Whether :func:`resampling_matrix` maps waveforms from ``from_frequency`` to ``to_frequency`` (Hz)."""
    return 1.0 / MAX_RESAMPLING_RATIO <= to_frequency / from_frequency <= MAX_RESAMPLING_RATIO


@functools.lru_cache(maxsize=16)
def resampling_matrix(config: FeatureConfig, from_frequency: float, to_frequency: float) -> np.ndarray:
    """Linear map from a waveform sampled at ``from_frequency`` to the same window at ``to_frequency``.

    Both windows are :func:`waveform_samples` of ``config`` at their rate, aligned on the trough (sample
    ``nbefore`` is time 0). The map is the natural cubic spline through the samples (exact on the samples
    themselves and on straight lines), held at the first and last sample outside the sampled span.

    Parameters
    ----------
    config : FeatureConfig
    from_frequency, to_frequency : float
        Hz.

    Returns
    -------
    np.ndarray, shape (num_samples_to, num_samples_from), float32
        ``waveform_to = matrix @ waveform_from``; read-only, computed once per (config, rates) and reused for
        every block of traces.
    """
    from scipy.interpolate import CubicSpline

    if not resampling_supported(from_frequency, to_frequency):
        raise ValueError(
            f"Resampling waveforms from {from_frequency:g} Hz to {to_frequency:g} Hz is not supported "
            "(rates within a factor of 2 only): resample the recording or train a localizer at its rate."
        )
    before_from, after_from = waveform_samples(config, from_frequency)
    before_to, after_to = waveform_samples(config, to_frequency)
    t_from = (np.arange(before_from + after_from) - before_from) / from_frequency
    t_to = (np.arange(before_to + after_to) - before_to) / to_frequency
    t_to = np.clip(t_to, t_from[0], t_from[-1])
    basis = CubicSpline(t_from, np.eye(t_from.size), axis=0, bc_type="natural")
    matrix = basis(t_to).astype("float32")
    matrix.setflags(write=False)
    return matrix


def margin_samples(config: FeatureConfig, sampling_frequency: float) -> int:
    """Trace margin a block needs around each spike."""
    nbefore, nafter = waveform_samples(config, sampling_frequency)
    return max(nbefore, nafter) + config.peak_search_samples + 1
