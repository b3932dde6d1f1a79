"""Template matching after location clustering: every spike, overlapping ones included.

Clustering assigns each detected peak once, so two spikes that overlap in time and space give one peak.
Templates estimated from the clusters go to SpikeInterface's matching engines
(``spikeinterface.sortingcomponents.matching``), which peel spikes one after another and recover the
hidden ones. Optionally (``merge=True``) SpikeInterface's final cleaning then merges over-split units
(template similarity, distance between units, refractory periods), as its internal sorters do.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .duplicates import AbsorbConfig, DuplicateConfig, absorbed_units, duplicate_groups
from .splitting import refractory_samples
from .templates import estimate_templates_in_chunk_order

__all__ = ["MatchingConfig", "match_templates"]

MATCHING_ENGINES = ("wobble", "circus-omp")


@dataclass(frozen=True, kw_only=True)
class MatchingConfig:
    """Settings of the template-matching step.

    Parameters
    ----------
    engine : "wobble" | "circus-omp", default: "wobble"
        SpikeInterface matching engine. With "wobble" (and its threshold in noise units, below) the six 50-cell
        selection recordings (`np64-10uv` seeds 11, 12, 13; Neuropixels-64 and SqMEA-10-15 40 E + 10 I and
        `sqmea-10uv`, seed 11) gave 286 well-detected units against circus-omp's 282, a higher mean accuracy
        on every one (0.960 against 0.942 on average; Neuropixels-64 seed 13 0.960 -> 0.977) and 10
        false-positive units against 13: circus-omp missed 7-11 % of the spikes of isolated large units,
        nearly all within 1.5 ms of another cell's spike.
    ms_before, ms_after : float, default: 1.0, 2.5
        Template window around the peak.
    template_radius_um : float, default: 200.0
        Templates are sparse: channels within this distance of the cluster's barycentre. It has to reach the far
        field of a large unit: with 100 um, a large spike's part beyond its template's channels was left in the
        residual, where a weak unit's template 100-160 um away matched it 0.5-0.9 ms off (on the seed-13
        `np64-10uv` recording, 118 of one SNR-4 unit's 294 false-positive spikes sat on the spikes of an SNR-32
        cell 118 um away). Well-detected units on the six 50-cell selection recordings (`np64-10uv` seeds 11,
        12, 13; Neuropixels-64 and SqMEA-10-15 40 E + 10 I and `sqmea-10uv`, seed 11) went from 269 in all at
        100 um to 275 at 150, 280 at 200 and 282 at 400 (dense on these probes), and mean accuracy rose on every
        recording (np64-10uv seed 11: 0.947 -> 0.961); 200 keeps templates bounded on full-size probes.
    sparsify_threshold : float, default: 1.0
        Channels whose template amplitude is below this many noise levels are dropped.
    min_snr : float, default: 4.0
        Templates with a lower peak-to-peak SNR are not matched.
    max_jitter_ms : float, default: 0.2
        Templates whose peak is off-centre by more are not matched.
    wobble_threshold : float, default: 300.0
        ``"wobble"`` only: its detection threshold in squared noise levels (times the median noise level of the
        channels, squared). SpikeInterface's raw default, 50 in squared trace units, is meant for whitened
        traces (noise level 1), as ``lupin`` matches; on unwhitened traces in uV it accepts nearly anything.
        On the selection recordings 50, 200, 300, 400 and 600 noise variances gave 281, 285, 286, 285 and 274
        well-detected units (mean accuracy 0.955, 0.960, 0.960, 0.955, 0.932).
    min_amplitude_scaling : float, default: 0.7
        ``"circus-omp"`` only: a match whose fitted amplitude is below this fraction of its template's is
        dropped. SpikeInterface's default, 0.6, lets a unit's template absorb what is left of a larger
        neighbour's spike half a millisecond away; on MEArec recordings (seed 11, chosen there; pretrained
        localizer) 0.7 took the Neuropixels-64 sorter from 27 to 28 well-detected units of 28 and
        SqMEA-10-15 from 27 to 28.
    merge : bool, default: False
        Merge over-split units after matching (SpikeInterface's final cleaning, as ``spykingcircus2`` does).
        Off by default: on the seed-11 MEArec recordings (pretrained localizer) it merged distinct cells,
        and leaving it out took the 50-cell Neuropixels-64 recording from 43 to 47 well-detected units and
        SqMEA-10-15's from 38 to 42, left the 28-cell SqMEA-10-15 one at 28 and cost the 28-cell
        Neuropixels-64 one a unit (28 -> 27, one split left unmerged); the step also took about 20 s of
        a 50 s run.
    merge_max_distance_um : float, default: 50.0
        Units further apart than this are never merged.
    duplicate_cosine : float, default: 0.97
        Units whose multichannel templates have at least this cosine are merged when their spike trains share
        a refractory period (:mod:`.duplicates`): one large cell that clustering cut in two. 1 turns it off.
    fragment_cosine : float, default: 0.8
        A unit with at most ``fragment_ratio`` times another's spikes is merged into it from this lower
        template cosine on, under a stricter refractory test (``fragment_max_ratio``; :mod:`.duplicates`):
        burst spikes of a bursting cell clustered apart, or a cell whose cluster was cut in two where the
        refractory test of the split had too few spikes to object. On the six selection recordings (seeds
        11-13, 50 cells, 10 uV) it took the false-positive units from 10 to 3 and the well-detected units from
        286 to 289; on five 20/30 uV recordings (seed 11, `np64-30uv` also seed 12) from 20 to 10 false-positive
        and 141 to 145 well-detected units. 1 turns it off.
    fragment_ratio : float, default: 0.5
        Spike-count ratio (small / large) up to which ``fragment_cosine`` applies. 0.2 (burst fragments only):
        286 / 4 and 142 / 13 on those recordings.
    fragment_max_ratio : float, default: 0.25
        Such a pair merges only with at most this fraction of the coincidences two independent cells would
        give (0.5 for pairs above ``duplicate_cosine``); at most 2 are tolerated when chance gives fewer. With
        0.5 the seed-11 SqMEA-10-15 recording lost two cells to a merge of a pair with 5 coincidences where
        10.6 were expected (46 -> 44 well-detected units).
    min_spikes : int, default: 20
        Units to which matching gives fewer spikes than this are dropped: their template formed from a
        cluster (of at least the sorter's ``min_cluster_size`` peaks, 20 by default), but the other templates
        explain that cluster's peaks better, so what is left is a few stray matches. On the seed-11 MEArec
        recordings (50 cells, 60 s) it took the false-positive units from 5 to 2 on SqMEA-10-15 and from 7 to 6
        and 5 to 5 on the two Neuropixels-64 ones, with the same well-detected units; with matched-filtering
        detection (SpikeInterface's detector) from 14 to 4, 11 to 5 and 7 to 5. 0 keeps every unit.
    absorb_fraction : float, default: 0.5
        A unit to which matching gives fewer spikes than this fraction of its cluster's peaks (summed over merged
        duplicates) is absorbed by the unit with at least ``1 / fragment_ratio`` times its spikes whose
        template, shifted by up to ``absorb_max_lag_ms``, is most alike, when their cosine reaches
        ``absorb_cosine`` and the two trains (the absorbed one moved by the lag) pass the fragment refractory
        test (:func:`.duplicates.absorbed_units`). The other templates
        explained most of such a unit's cluster: what matching left it is mostly a cell's spikes found on
        another sample, so its template is the cell's shifted (on the seed-21 50-cell `np64-10uv` recording
        units of 21 and 30 spikes whose templates have cosines of 0.87-0.89 with a large cell's at lags of
        6-9 samples, 0.25 at none), or its spikes where another cell's overlap. Units with a lower cosine
        stay. Well-detected units keep 57 % or more of their cluster's peaks on the 18 MEArec recordings of
        the selection and report sets, usually over 85 % (matching adds the overlapped spikes), but less on
        a drifting recording whose clusters mix cells, hence absorption rather than removal. 0 turns it off.
    absorb_cosine : float, default: 0.7
        Lowest lagged template cosine at which a unit is absorbed (the fragment rule's 0.8 missed a cell's
        copy at 0.79 on seed-21 `sqmea-10uv`; the copies on seed-21 `np64-10uv` reach 0.87-0.89).
    absorb_max_lag_ms : float, default: 0.3
        Largest shift between the two templates (about 10 samples).
    """

    engine: str = "wobble"
    ms_before: float = 1.0
    ms_after: float = 2.5
    template_radius_um: float = 200.0
    sparsify_threshold: float = 1.0
    min_snr: float = 4.0
    max_jitter_ms: float = 0.2
    wobble_threshold: float = 300.0
    min_amplitude_scaling: float = 0.7
    merge: bool = False
    merge_max_distance_um: float = 50.0
    duplicate_cosine: float = 0.97
    fragment_cosine: float = 0.8
    fragment_ratio: float = 0.5
    fragment_max_ratio: float = 0.25
    min_spikes: int = 20
    absorb_fraction: float = 0.5
    absorb_cosine: float = 0.7
    absorb_max_lag_ms: float = 0.3

    def __post_init__(self):
        if self.engine not in MATCHING_ENGINES:
            raise ValueError(f"matching engine must be one of {MATCHING_ENGINES}, not {self.engine!r}")
        if self.ms_before <= 0 or self.ms_after <= 0 or self.template_radius_um <= 0:
            raise ValueError("ms_before, ms_after and template_radius_um must be positive")
        if self.wobble_threshold <= 0:
            raise ValueError(f"wobble_threshold must be positive, not {self.wobble_threshold!r}")
        if not 0.0 <= self.min_amplitude_scaling < 1.0:
            raise ValueError(f"min_amplitude_scaling must be in [0, 1), not {self.min_amplitude_scaling!r}")
        if not 0.0 < self.duplicate_cosine:
            raise ValueError(f"duplicate_cosine must be > 0 (1 or more: no merging), not {self.duplicate_cosine!r}")
        self.duplicates  # the fragment fields are checked here, before any sorting is done
        if self.min_spikes < 0:
            raise ValueError(f"min_spikes must be >= 0, not {self.min_spikes!r}")
        self.absorb  # checked here too

    @property
    def duplicates(self) -> DuplicateConfig:
        """The duplicate and fragment merging settings, as :func:`.duplicates.duplicate_groups` takes them."""
        return DuplicateConfig(min_cosine=self.duplicate_cosine, fragment_cosine=self.fragment_cosine,
                               fragment_ratio=self.fragment_ratio, fragment_max_ratio=self.fragment_max_ratio)

    @property
    def absorb(self) -> AbsorbConfig:
        """The absorption settings, as :func:`.duplicates.absorbed_units` takes them."""
        return AbsorbConfig(fraction=self.absorb_fraction, cosine=self.absorb_cosine,
                            max_lag_ms=self.absorb_max_lag_ms)


def _cluster_templates(recording, peaks, labels, noise_levels, config: MatchingConfig, job_kwargs):
    from spikeinterface.core import NumpySorting, Templates
    from spikeinterface.sortingcomponents.tools import clean_templates, compute_sparsity_from_peaks_and_label

    fs = recording.sampling_frequency
    keep = labels >= 0
    unit_ids = np.unique(labels[keep])
    sorting = NumpySorting.from_samples_and_labels(
        [peaks["sample_index"][keep & (peaks["segment_index"] == s)] for s in range(recording.get_num_segments())],
        [labels[keep & (peaks["segment_index"] == s)] for s in range(recording.get_num_segments())],
        fs, unit_ids=unit_ids,
    )
    spikes = sorting.to_spike_vector(concatenated=True)
    sparsity, _ = compute_sparsity_from_peaks_and_label(
        peaks[keep], np.searchsorted(unit_ids, labels[keep]), unit_ids, recording, config.template_radius_um
    )
    nbefore, nafter = int(round(config.ms_before * fs / 1000)), int(round(config.ms_after * fs / 1000))
    array = estimate_templates_in_chunk_order(
        recording, spikes, unit_ids.size, nbefore, nafter, sparsity.mask, job_kwargs
    )
    templates = Templates(
        templates_array=array, sampling_frequency=fs, nbefore=nbefore, channel_ids=recording.channel_ids,
        unit_ids=unit_ids, sparsity_mask=sparsity.mask, probe=recording.get_probe(), is_in_uV=False,
    )
    return clean_templates(
        templates, sparsify_threshold=config.sparsify_threshold, noise_levels=noise_levels, min_snr=config.min_snr,
        max_jitter_ms=config.max_jitter_ms, remove_empty=True,
    )


def match_templates(recording, peaks: np.ndarray, labels: np.ndarray, noise_levels: np.ndarray,
                    config: MatchingConfig, job_kwargs: dict):
    """Spikes of every cluster found by template matching.

    Parameters
    ----------
    recording : BaseRecording
        The (filtered) recording the peaks were detected on.
    peaks : np.ndarray, shape (num_peaks,)
        Detected peaks (``sample_index``, ``channel_index``, ``segment_index``).
    labels : np.ndarray, shape (num_peaks,)
        Cluster of each peak, -1 for none.
    noise_levels : np.ndarray, shape (num_channels,)
        In the recording's units.
    config : MatchingConfig
    job_kwargs : dict

    Returns
    -------
    sorting : NumpySorting
        Unit ids are the cluster labels that kept a template (a merged duplicate or an absorbed unit keeps the
        id of the unit it joined).
    duplicate_decisions : list of dict
        The duplicate pairs judged (:func:`.duplicates.duplicate_groups`), with unit ids instead of indices.
    absorb_decisions : list of dict
        The candidates for absorption judged (:func:`.duplicates.absorbed_units`), with unit ids.
    """
    from spikeinterface.core import NumpySorting
    from spikeinterface.core.base import minimum_spike_dtype
    from spikeinterface.core.job_tools import fix_job_kwargs
    from spikeinterface.sortingcomponents.matching import find_spikes_from_templates
    from threadpoolctl import threadpool_limits

    templates = _cluster_templates(recording, peaks, labels, noise_levels, config, job_kwargs)
    if templates.unit_ids.size == 0:
        return NumpySorting.from_samples_and_labels(
            [np.zeros(0, "int64")] * recording.get_num_segments(), [np.zeros(0, "int64")] * recording.get_num_segments(),
            recording.sampling_frequency, unit_ids=np.zeros(0, "int64"),
        ), [], []
    if config.engine == "circus-omp":
        method_kwargs = dict(amplitudes=[config.min_amplitude_scaling, np.inf])
    else:  # wobble: its threshold is on 2 <template, traces> - |template|^2, in squared trace units
        method_kwargs = dict(parameters=dict(threshold=config.wobble_threshold * float(np.median(noise_levels)) ** 2))
    job_kwargs = fix_job_kwargs(dict(job_kwargs))
    # SpikeInterface's workers run BLAS with max_threads_per_worker threads, its n_jobs=1 path with all of them,
    # and the matching engines' sums then differ in the last bits, enough to flip a few borderline spikes
    # (20,437 against 20,448 on a MEArec recording): the same thread count for every n_jobs
    with threadpool_limits(limits=job_kwargs.get("max_threads_per_worker") or 1):
        found = find_spikes_from_templates(recording, templates, method=config.engine, method_kwargs=method_kwargs,
                                           job_kwargs=job_kwargs)
    spikes = np.zeros(found.size, dtype=minimum_spike_dtype)
    spikes["sample_index"] = found["sample_index"]
    spikes["unit_index"] = found["cluster_index"]
    spikes["segment_index"] = found["segment_index"]
    sorting = NumpySorting(spikes, recording.sampling_frequency, templates.unit_ids)
    sorting, decisions, members = _merge_duplicates(recording, sorting, templates, config)
    absorbed = []
    if config.absorb.fraction > 0 and sorting.get_num_units() > 1:
        sorting, absorbed = _absorb_units(recording, sorting, templates, labels, members, config)
    if config.merge and templates.unit_ids.size > 1:
        from spikeinterface.sorters.internal.spyking_circus2 import final_cleaning_circus

        analyzer = final_cleaning_circus(
            recording, sorting, templates, amplitude_scalings=found["amplitude"], noise_levels=noise_levels,
            similarity_kwargs={"method": "l1", "support": "union", "max_lag_ms": 0.5}, sparsity_overlap=0.5,
            censor_ms=3.0, max_distance_um=config.merge_max_distance_um,
            template_diff_thresh=np.arange(0.05, 0.4, 0.05), job_kwargs=dict(job_kwargs),
        )
        sorting = NumpySorting.from_sorting(analyzer.sorting)
    if config.min_spikes > 0:
        counts = sorting.count_num_spikes_per_unit(outputs="array")
        sorting = NumpySorting.from_sorting(sorting.select_units(sorting.unit_ids[counts >= config.min_spikes]))
    return sorting, decisions, absorbed


def matched_fractions(sorting, labels: np.ndarray, members: dict) -> np.ndarray:
    """Spikes matched to each unit over the peaks of the clusters it stands for.

    Parameters
    ----------
    sorting : BaseSorting
        Matched units; their ids are cluster labels.
    labels : np.ndarray, shape (num_peaks,)
        Cluster of each detected peak, -1 for none.
    members : dict
        Unit id -> the cluster labels merged into it (itself included).

    Returns
    -------
    np.ndarray, shape (num_units,)
        ``matched spikes / cluster peaks``, in the order of ``sorting.unit_ids``.
    """
    sizes = np.bincount(labels[labels >= 0], minlength=int(max(labels.max(), 0)) + 1)
    matched = sorting.count_num_spikes_per_unit(outputs="array")
    peaks = np.array([sizes[np.asarray(members[u])].sum() for u in sorting.unit_ids], dtype="float64")
    return matched / np.maximum(peaks, 1.0)


def _absorb_units(recording, sorting, templates, labels, members, config: MatchingConfig):
    """Move the spikes of the units :func:`.duplicates.absorbed_units` finds emptied by matching to their cell's unit."""
    unit_ids = sorting.unit_ids
    dense = templates.get_dense_templates()[np.searchsorted(templates.unit_ids, unit_ids)]
    trains, total = _unit_trains(recording, sorting)
    target, lag, decisions = absorbed_units(dense, trains, matched_fractions(sorting, labels, members), config.absorb,
                                            config.duplicates, recording.sampling_frequency, total)
    for d in decisions:
        d["units"] = tuple(None if i is None else unit_ids[i].item() for i in d["units"])
    if (target < 0).all():
        return sorting, decisions
    spikes = sorting.to_spike_vector().copy()
    index = spikes["unit_index"].astype(np.int64)
    moved = target[index] >= 0
    spikes["sample_index"][moved] += lag[index[moved]]
    index = np.where(moved, target[index], index)
    # an absorbed spike within the dead time of one of its new unit's is that spike found twice: dropped
    dead, _ = refractory_samples(config.duplicates.dead_ms, config.duplicates.refractory_ms,
                                 recording.sampling_frequency)
    keep = np.ones(spikes.size, dtype=bool)
    for segment in range(sorting.get_num_segments()):
        in_segment = spikes["segment_index"] == segment
        for v in np.unique(index[moved & in_segment]):
            own = np.sort(spikes["sample_index"][(index == v) & ~moved & in_segment])
            mine = np.flatnonzero((index == v) & moved & in_segment)
            times = spikes["sample_index"][mine]
            gap = max(dead, 1) - 1  # |own - mine| <= gap
            twice = np.searchsorted(own, times + gap, side="right") > np.searchsorted(own, times - gap)
            keep[mine[twice]] = False
    limits = np.array([recording.get_num_samples(s) for s in range(recording.get_num_segments())])
    keep &= (spikes["sample_index"] >= 0) & (spikes["sample_index"] < limits[spikes["segment_index"]])
    return _relabelled(sorting, spikes[keep], index[keep], np.flatnonzero(target < 0)), decisions


def _unit_trains(recording, sorting) -> tuple[list[list[np.ndarray]], int]:
    """Each unit's spike train per segment, and the recording's length in samples over all segments."""
    trains = [[sorting.get_unit_spike_train(u, segment_index=s) for s in range(sorting.get_num_segments())]
              for u in sorting.unit_ids]
    return trains, sum(recording.get_num_samples(s) for s in range(recording.get_num_segments()))


def _relabelled(sorting, spikes: np.ndarray, unit_index: np.ndarray, kept: np.ndarray):
    """``spikes`` as a sorting whose units are ``sorting.unit_ids[kept]``; ``unit_index`` indexes ``sorting``'s
    units and takes only values in ``kept`` (sorted)."""
    from spikeinterface.core import NumpySorting

    spikes = spikes.copy()
    spikes["unit_index"] = np.searchsorted(kept, unit_index)
    order = np.lexsort((spikes["unit_index"], spikes["sample_index"], spikes["segment_index"]))
    return NumpySorting(spikes[order], sorting.sampling_frequency, sorting.unit_ids[kept])


def _merge_duplicates(recording, sorting, templates, config: MatchingConfig):
    """Merge the units :func:`.duplicates.duplicate_groups` finds to be one cell.

    Returns the merged sorting, the decisions, and each kept unit's merged cluster labels.
    """
    duplicates = config.duplicates
    alone = {u: [u] for u in sorting.unit_ids}
    if not duplicates.merges:  # no spike trains or dense templates to gather
        return sorting, [], alone
    unit_ids = sorting.unit_ids
    trains, total = _unit_trains(recording, sorting)
    group, decisions = duplicate_groups(templates.get_dense_templates(), trains, duplicates,
                                        recording.sampling_frequency, total)
    for d in decisions:
        d["units"] = tuple(unit_ids[i].item() for i in d["units"])
    if (group == np.arange(unit_ids.size)).all():
        return sorting, decisions, alone
    kept = np.unique(group)
    members = {unit_ids[g]: list(unit_ids[group == g]) for g in kept}
    spikes = sorting.to_spike_vector()
    return _relabelled(sorting, spikes, group[spikes["unit_index"]], kept), decisions, members
