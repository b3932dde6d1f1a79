"""A location-based spike sorter in SpikeInterface's sorter framework (``run_sorter("location_sorter", ...)``).

Pipeline, chunk by chunk through SpikeInterface's node pipeline (``job_kwargs`` apply):

1. optional band-pass filter (skipped when the recording is already filtered), and optionally
   (``apply_motion_correction=True``) SpikeInterface's ``correct_motion`` with the VAE localizer
   (:mod:`si_amortized.sorters.motion`);
2. peak detection (``detect_peaks``: ``locally_exclusive`` thresholding, or ``matched_filtering`` with a
   prototype waveform, which reaches cells of lower SNR; :mod:`si_amortized.sorters.detection`);
3. localization of every peak (``localize_peaks`` methods: ``"vae"`` from :mod:`si_amortized.localization`
   by default, or SpikeInterface's ``"center_of_mass"``, ``"monopolar_triangulation"``, ``"grid_convolution"``);
4. features = locations (x, y) + ``n_pcs`` whitened PCs of the peak-channel waveform times ``pc_scale``
   (as HerdingSpikes does), the PCA fitted on a random subset of peaks, and the log peak amplitude times
   ``amplitude_scale`` (30 um per e-fold; 0 leaves it out);
5. density clustering that needs no number of clusters (mean shift or HDBSCAN, scikit-learn), then
   (``split=True``) each cluster split in two where the halves' multichannel waveforms differ and their
   spikes coincide within the refractory period as two independent cells do (:mod:`si_amortized.sorters.splitting`);
6. template matching with the clusters' templates (``matching="wobble"``, the default, or ``"circus-omp"``;
   None skips it), which recovers spikes that overlap in time and space, then units that are one cell found
   twice (same template, one refractory period) merged (:mod:`si_amortized.sorters.duplicates`; optionally
   followed by SpikeInterface's final cleaning, which merges units: ``matching_kwargs={'merge': True}``);
7. (``split_matched=True``, the default) each matched unit split as the clusters were: matching gathers into
   one unit the spikes of a cell whose own peaks clustering had spread over other clusters, and with all of
   them the refractory test can judge a split that the cluster's few peaks could not.

Without matching every detected peak belongs to at most one unit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from spikeinterface.core import NumpySorting, get_noise_levels
from spikeinterface.core.job_tools import fix_job_kwargs
from spikeinterface.sorters.internal.si_based import ComponentsBasedSorter

from .clustering import ClusteringConfig, cluster_features
from .detection import check_detection_settings, detect_sorter_peaks
from .features import LocalPeakAmplitude, PeakChannelWaveform, fit_whitened_pca, peak_channel_waveforms, random_peak_subset
from .matching import MatchingConfig, match_templates
from .motion import DEFAULT_MOTION_CORRECTION, check_motion_correction, correct_sorter_motion
from .splitting import SplitConfig, split_clusters

#: The decisions a run records (JSON files of the sorter output folder).
_DECISIONS = ("split_decisions", "duplicate_decisions", "absorb_decisions", "matched_split_decisions")

_CLUSTERING_KEYS = ("clusterer", "bandwidth", "min_bin_freq", "min_cluster_size", "min_samples", "max_spikes_fit")

#: What ``None`` means for these parameters, without and with ``apply_motion_correction``. Interpolating the
#: traces back to a still probe changes a unit's peak amplitude and peak-channel shape with its drift phase (a
#: channel between two contacts is their kriged mean), so on a corrected recording those features split units
#: and the locations alone, with a wider kernel, do better. Chosen on seed-1 drifting recordings
#: (``generate_drifting_recording``, 30 units, 64-channel Neuropixels-1.0-like probe, 60 s; zigzag / jumps /
#: non-rigid): 14 / 17 / 18 well-detected units with the still-probe defaults, 22 / 20 / 23 without the
#: amplitude and PCs, 24 / 23 / 23 with a bandwidth of 8 um too. The detection threshold without motion
#: correction, 4.5 MAD (was 5), was chosen with the other defaults on the 11 selection MEArec recordings (seeds
#: 11-13, 10-30 uV): 444 well-detected / 18 false-positive units against 436 / 13 at 5, the mean accuracy higher
#: on 8 of the 11 (equal on 2); the drifting case keeps the 5 it was tuned with.
MODE_DEFAULTS = {
    False: {"n_pcs": 2, "amplitude_scale": 30.0, "bandwidth": 6.0, "detect_threshold": 4.5},
    True: {"n_pcs": 0, "amplitude_scale": 0.0, "bandwidth": 8.0, "detect_threshold": 5.0},
}


#: ``detect_threshold=None`` with ``matched_filtering`` detection (not part of that choice): its previous default.
MATCHED_FILTERING_THRESHOLD = 5.0


def resolve_mode_defaults(params: dict) -> dict:
    """``params`` with each ``None`` of :data:`MODE_DEFAULTS`'s keys replaced by its value for the mode."""
    defaults = dict(MODE_DEFAULTS[bool(params["apply_motion_correction"])])
    if params.get("detection_method", "locally_exclusive") != "locally_exclusive":
        defaults["detect_threshold"] = MATCHED_FILTERING_THRESHOLD
    return {**params, **{k: v for k, v in defaults.items() if params.get(k) is None}}


def _localization_kwargs(params: dict) -> dict:
    """The localization method's kwargs; the VAE's ``model="auto"`` default means nothing to the other methods."""
    kwargs = dict(params["localization_kwargs"])
    if params["localization_method"] != "vae" and kwargs.get("model") == "auto":
        del kwargs["model"]
    return kwargs


class LocationSorter(ComponentsBasedSorter):
    """Spike sorting by clustering peak locations (+ a few whitened waveform PCs).

    Run it as any SpikeInterface sorter once ``si_amortized`` (or ``si_amortized.sorters``) is imported::

        import si_amortized.sorters
        from spikeinterface.sorters import run_sorter
        sorting = run_sorter("location_sorter", recording, folder="ls", localization_method="vae")
    """

    sorter_name = "location_sorter"
    requires_locations = True
    handle_multi_segment = True

    _default_params = {
        "apply_preprocessing": True,
        "freq_min": 300.0,
        "freq_max": 6000.0,
        "apply_motion_correction": False,
        "motion_correction": DEFAULT_MOTION_CORRECTION,
        "peak_sign": "neg",
        "detection_method": "locally_exclusive",
        "detection_kwargs": {},
        "detect_threshold": None,
        "exclude_sweep_ms": 0.5,
        "detect_radius_um": 50.0,
        "localization_method": "vae",
        "localization_kwargs": {"model": "auto"},
        "localization_ms_before": 0.5,
        "localization_ms_after": 0.5,
        "location_features": ["x", "y"],
        "n_pcs": None,
        "pc_scale": 5.0,
        "amplitude_scale": None,
        "pc_ms_before": 0.5,
        "pc_ms_after": 1.0,
        "n_peaks_pca_fit": 5000,
        "clusterer": "mean_shift",
        "bandwidth": None,
        "min_bin_freq": 5,
        "min_cluster_size": 20,
        "min_samples": None,
        "max_spikes_fit": 50000,
        "split": True,
        "split_kwargs": {},
        "matching": "wobble",
        "matching_kwargs": {},
        "split_matched": True,
        "split_matched_kwargs": {"min_expected": 3.0},
        "seed": 0,
        "save_features": True,
        "job_kwargs": {},
    }

    _params_description = {
        "apply_preprocessing": "Band-pass filter the recording first, unless it is already marked filtered",
        "freq_min": "Band-pass low cut (Hz)",
        "freq_max": "Band-pass high cut (Hz)",
        "apply_motion_correction": "Estimate the drift with correct_motion and sort the interpolated recording "
        "(for recordings whose cells move along the probe); n_pcs, amplitude_scale and bandwidth left at None "
        "then take their motion-corrected values (0, 0, 8)",
        "motion_correction": "correct_motion settings: preset (default dredge_fast) and any of detect_kwargs, "
        "select_kwargs, localize_peaks_kwargs (default: method vae, model auto, likelihood squared_error, "
        "refine_steps 0), estimate_motion_kwargs (default: win_step_um and win_scale_um 150), "
        "interpolate_motion_kwargs; features: interpolated (default: peaks and features from the interpolated "
        "traces) | peaks (from the drifting traces, locations moved back by the motion)",
        "peak_sign": "Polarity of detected peaks: neg | pos | both",
        "detection_method": "Peak detection: locally_exclusive (threshold on each channel) | matched_filtering "
        "(correlate with a prototype spike and spatial kernels first, as lupin does)",
        "detection_kwargs": "matched_filtering only: fields of si_amortized.sorters.detection.MatchedFilteringConfig "
        "(ms_before, ms_after, n_peaks, ...)",
        "detect_threshold": "Detection threshold in multiples of the noise MAD (of the filtered output with "
        "matched_filtering). None: 4.5, or 5 with apply_motion_correction or matched_filtering",
        "exclude_sweep_ms": "Peaks closer than this in time (and within detect_radius_um) are one peak",
        "detect_radius_um": "Radius of the locally exclusive detection",
        "localization_method": "localize_peaks method: vae | center_of_mass | monopolar_triangulation | grid_convolution",
        "localization_kwargs": "method_kwargs of the localization method. vae: {'model': 'auto'} (default) uses the "
        "localizer shipped for the probe layout when one fits and trains one on the peaks otherwise; {} or "
        "{'epochs': 20} always trains; {'model': path} reuses a trained one. A 'model': 'auto' is ignored by "
        "the other methods",
        "localization_ms_before": "Dense-waveform window before the peak for SpikeInterface's localizers (ms)",
        "localization_ms_after": "Dense-waveform window after the peak for SpikeInterface's localizers (ms)",
        "location_features": "Location fields used as features (x, y and optionally z)",
        "n_pcs": "Number of whitened PCs of the peak-channel waveform added to the features (0: locations only). "
        "None: 2, or 0 with apply_motion_correction",
        "pc_scale": "Multiplier of the unit-variance PCs, in micrometres (HerdingSpikes' pca scale)",
        "amplitude_scale": "Micrometres per e-fold of a peak's amplitude (largest deflection within 0.2 ms on the "
        "channels within detect_radius_um); the log amplitude times this is one more feature. 0: none. None: 30, "
        "or 0 with apply_motion_correction",
        "pc_ms_before": "Peak-channel waveform window before the peak (ms)",
        "pc_ms_after": "Peak-channel waveform window after the peak (ms)",
        "n_peaks_pca_fit": "Random peaks used to fit the PCA",
        "clusterer": "Density clustering: mean_shift | hdbscan (no number of clusters needed)",
        "bandwidth": "Mean-shift bandwidth, in micrometres. None: 6, or 8 with apply_motion_correction",
        "min_bin_freq": "Mean shift: minimum spikes in a seed bin",
        "min_cluster_size": "Smallest unit kept (and HDBSCAN min_cluster_size)",
        "min_samples": "HDBSCAN min_samples",
        "max_spikes_fit": "The clusterer is fitted on at most this many spikes, the rest assigned by nearest neighbour",
        "split": "Split clusters that hold two cells: a two-component mixture on each cluster's multichannel "
        "waveform features, kept when the halves coincide within the refractory period as independent cells do",
        "split_kwargs": "Fields of si_amortized.sorters.splitting.SplitConfig (radius_um, refractory_ms, min_ratio, ...)",
        "matching": "Template matching after clustering: wobble | circus-omp (SpikeInterface's engines; recovers "
        "overlapping spikes; matching_kwargs={'merge': True} then merges units as spykingcircus2 does) or None "
        "(every detected peak in at most one unit: fast)",
        "matching_kwargs": "Fields of si_amortized.sorters.matching.MatchingConfig (ms_before, template_radius_um, ...)",
        "split_matched": "With matching: afterwards, split each unit's matched spikes as clusters are split (mixture on "
        "multichannel waveform features, kept on the refractory test): matching gathers a cell whose peaks "
        "clustering spread over other clusters into the unit of a cell at the same place, where its spikes can "
        "outnumber the refractory test's minimum",
        "split_matched_kwargs": "Fields of SplitConfig for that split, over split_kwargs (default: min_expected "
        "3: judged from 3 coincidences expected by chance)",
        "seed": "Seed of the random subsets",
        "save_features": "Save peaks, locations, features and labels as .npy in the sorter output folder",
        "job_kwargs": "SpikeInterface job kwargs (n_jobs, chunk_duration, progress_bar, ...)",
    }

    sorter_description = (
        "Detect peaks, localize them (VAE by default), cluster locations + whitened waveform PCs "
        "with mean shift or HDBSCAN. From si_amortized."
    )

    @classmethod
    def get_sorter_version(cls):
        from .. import __version__

        return __version__

    @classmethod
    def _check_params(cls, recording, output_folder, params):
        params = resolve_mode_defaults(params)
        ClusteringConfig(**{k: params[k] for k in _CLUSTERING_KEYS})
        from spikeinterface.sortingcomponents.peak_localization.method_list import peak_localization_methods

        if params["localization_method"] not in peak_localization_methods:
            hint = " (import si_amortized to register 'vae')" if params["localization_method"] == "vae" else ""
            raise ValueError(
                f"Unknown localization_method {params['localization_method']!r}{hint}; "
                f"available: {sorted(peak_localization_methods)}"
            )
        bad = [f for f in params["location_features"] if f not in ("x", "y", "z")]
        if bad or not params["location_features"]:
            raise ValueError(f"location_features must be a non-empty subset of x, y, z; got {params['location_features']}")
        if params["n_pcs"] < 0 or params["pc_scale"] < 0 or params["amplitude_scale"] < 0:
            raise ValueError("n_pcs, pc_scale and amplitude_scale must be >= 0")
        check_detection_settings(params["detection_method"], params["detection_kwargs"])
        if params["apply_motion_correction"]:
            check_motion_correction(params["motion_correction"])
        if params["matching"] is not None:
            MatchingConfig(engine=params["matching"], **params["matching_kwargs"])
        SplitConfig(**params["split_kwargs"])
        matched_split_config(params)
        return params

    @classmethod
    def _run_from_folder(cls, sorter_output_folder, params, verbose):
        recording = cls.load_recording_from_folder(sorter_output_folder.parent, with_warnings=False)
        sorting, outputs = sort_by_locations(recording, params, verbose=verbose)
        sorting.save(folder=Path(sorter_output_folder) / "sorting")
        motion = outputs.pop("motion", None)
        if motion is not None:
            motion.save(Path(sorter_output_folder) / "motion")
        for name in _DECISIONS:
            (Path(sorter_output_folder) / f"{name}.json").write_text(json.dumps(outputs.pop(name), indent=1))
        if params["save_features"]:
            for name, array in outputs.items():
                np.save(Path(sorter_output_folder) / f"{name}.npy", array)
        return sorting


def _preprocess(recording, params):
    if params["apply_preprocessing"] and not recording.is_filtered():
        from spikeinterface.preprocessing import bandpass_filter

        recording = bandpass_filter(recording, freq_min=params["freq_min"], freq_max=params["freq_max"], dtype="float32")
    return recording


def sort_by_locations(recording, params: dict, verbose: bool = False):
    """The sorter's pipeline on a recording, outside any sorter folder.

    Parameters
    ----------
    recording : BaseRecording
    params : dict
        Sorter parameters; missing keys take :attr:`LocationSorter._default_params`.
    verbose : bool, default: False

    Returns
    -------
    sorting : NumpySorting
    outputs : dict
        ``peaks`` (num_peaks,) structured, ``locations`` (num_peaks,) structured,
        ``features`` (num_peaks, num_features), ``labels`` (num_peaks,) with -1 for unassigned peaks (after
        splitting), ``split_decisions`` (list of dict, one per judged split: see
        :func:`si_amortized.sorters.splitting.split_labels`), ``duplicate_decisions`` (list of dict, one per
        pair of units judged to be one cell after matching: :func:`si_amortized.sorters.duplicates.duplicate_groups`;
        empty without matching), ``absorb_decisions`` (one per unit that matching left with less than
        ``absorb_fraction`` of its cluster's peaks: :func:`si_amortized.sorters.duplicates.absorbed_units`),
        ``matched_split_decisions`` (one per judged split of a matched unit:
        :func:`split_matched_units`), and with
        ``apply_motion_correction`` the estimated ``motion`` (``spikeinterface.core.motion.Motion``; locations
        are then in the corrected frame).
    """
    from spikeinterface.core.node_pipeline import PeakRetriever, run_node_pipeline
    from spikeinterface.sortingcomponents.peak_localization.main import get_localization_pipeline_nodes

    full = dict(LocationSorter._default_params)
    unknown = set(params) - set(full)
    if unknown:
        raise ValueError(f"Unknown location_sorter parameters {sorted(unknown)}")
    full.update(params)
    params = LocationSorter._check_params(recording, None, full)
    job_kwargs = fix_job_kwargs(dict(params["job_kwargs"]))
    if "progress_bar" not in params["job_kwargs"]:
        job_kwargs["progress_bar"] = verbose
    seed = params["seed"]

    recording = _preprocess(recording, params)
    noise_levels = get_noise_levels(recording, return_in_uV=False, random_slices_kwargs=dict(seed=seed), **job_kwargs)
    motion, matching_recording, matching_noise_levels = None, recording, noise_levels
    if params["apply_motion_correction"]:
        # the motion's peak detection reuses the seeded noise levels just cached on the recording
        corrected, motion = correct_sorter_motion(recording, params["motion_correction"], job_kwargs)
        matching_recording = corrected
        matching_noise_levels = get_noise_levels(
            corrected, return_in_uV=False, random_slices_kwargs=dict(seed=seed), **job_kwargs
        )
        if check_motion_correction(params["motion_correction"])["features"] == "interpolated":
            recording, noise_levels = corrected, matching_noise_levels
        elif not np.array_equal(corrected.channel_ids, recording.channel_ids):
            raise ValueError(
                "motion_correction features='peaks' needs the interpolated recording to keep every channel; this "
                "preset removes border channels: pass interpolate_motion_kwargs={'border_mode': 'force_extrapolate'}"
            )
        if verbose:
            print("location_sorter: motion estimated")
    peaks = detect_sorter_peaks(
        recording, noise_levels, method=params["detection_method"], peak_sign=params["peak_sign"],
        detect_threshold=params["detect_threshold"], exclude_sweep_ms=params["exclude_sweep_ms"],
        radius_um=params["detect_radius_um"], detection_kwargs=params["detection_kwargs"], seed=seed,
        job_kwargs=job_kwargs,
    )
    if verbose:
        print(f"location_sorter: {peaks.size} peaks detected")

    pca, pca_subset = {}, None
    if params["n_pcs"] > 0 and peaks.size > params["n_pcs"]:
        subset = random_peak_subset(peaks, params["n_peaks_pca_fit"], seed)
        waveforms = peak_channel_waveforms(
            recording, subset, ms_before=params["pc_ms_before"], ms_after=params["pc_ms_after"], job_kwargs=job_kwargs
        )
        pca = fit_whitened_pca(waveforms, params["n_pcs"], seed=seed)
        pca_subset = (subset, waveforms, params["pc_ms_before"], params["pc_ms_after"])

    amplitude_feature = np.zeros((peaks.size, 0))
    if peaks.size == 0:
        locations = np.zeros(0, dtype=[(f, "float64") for f in params["location_features"]])
        pcs = np.zeros((0, len(pca.get("pca_scale", []))), dtype="float32")
    else:
        source = PeakRetriever(recording, peaks)
        nodes = get_localization_pipeline_nodes(
            recording, source, peaks_or_spikes=peaks, method=params["localization_method"],
            method_kwargs=_localization_kwargs(params), ms_before=params["localization_ms_before"],
            ms_after=params["localization_ms_after"], job_kwargs=job_kwargs, seed=seed,
        )
        if pca:
            nodes.append(
                PeakChannelWaveform(
                    recording, parents=[source], ms_before=params["pc_ms_before"], ms_after=params["pc_ms_after"], **pca
                )
            )
        if params["amplitude_scale"] > 0:
            nodes.append(LocalPeakAmplitude(recording, parents=[source], radius_um=params["detect_radius_um"],
                                            peak_sign=params["peak_sign"]))
        outputs = run_node_pipeline(
            recording, nodes, job_kwargs, job_name=f"localize ({params['localization_method']}) + features",
            squeeze_output=False,
        )
        locations = outputs[0]
        pcs = outputs[1] if pca else np.zeros((peaks.size, 0), dtype="float32")
        if params["amplitude_scale"] > 0:
            amplitude_feature = params["amplitude_scale"] * np.log(np.maximum(outputs[-1].astype("float64"), 1e-6))

    if motion is not None and recording is not matching_recording and peaks.size:
        from spikeinterface.sortingcomponents.motion import correct_motion_on_peaks

        locations = correct_motion_on_peaks(peaks, locations, motion, recording)
    missing = [f for f in params["location_features"] if f not in (locations.dtype.names or ())]
    if missing:
        raise ValueError(
            f"localization_method {params['localization_method']!r} gives no {missing}; "
            f"it gives {locations.dtype.names}: change location_features"
        )
    features = np.column_stack(
        [np.asarray(locations[f], dtype="float64") for f in params["location_features"]]
        + [params["pc_scale"] * np.asarray(pcs, dtype="float64"), amplitude_feature.reshape(peaks.size, -1)]
    )
    config = ClusteringConfig(**{k: params[k] for k in _CLUSTERING_KEYS})
    labels = cluster_features(features, config, seed=seed)
    decisions = []
    if params["split"] and (labels >= 0).any():
        split_config = SplitConfig(**params["split_kwargs"])
        before = int(labels.max()) + 1
        same_window = pca_subset is not None and pca_subset[2:] == (split_config.ms_before, split_config.ms_after)
        labels, decisions = split_clusters(recording, peaks, labels, noise_levels, split_config, job_kwargs,
                                           seed=seed, subset=pca_subset[:2] if same_window else None)
        if verbose:
            print(f"location_sorter: {int(labels.max()) + 1 - before} clusters split")
    if verbose:
        print(f"location_sorter: {labels.max() + 1} units, {np.mean(labels >= 0):.0%} of peaks assigned")

    if params["matching"] is not None and (labels >= 0).any():
        config = MatchingConfig(engine=params["matching"], **params["matching_kwargs"])
        sorting, duplicates, absorbed = match_templates(matching_recording, peaks, labels, matching_noise_levels,
                                                        config, job_kwargs)
        if verbose:
            merged = sum(d["merged"] for d in duplicates)
            print(f"location_sorter: template matching ({config.engine}) -> {sorting.get_num_units()} units "
                  f"({merged} duplicates merged, {sum(d['absorbed'] for d in absorbed)} units absorbed)")
        matched_decisions = []
        if params["split_matched"] and sorting.get_num_units():
            sorting, matched_decisions = split_matched_units(matching_recording, sorting, peaks, labels,
                                                             matching_noise_levels, matched_split_config(params),
                                                             job_kwargs, seed)
            if verbose:
                print(f"location_sorter: {sum(d['split'] for d in matched_decisions)} matched units split")
        return sorting, _outputs(peaks, locations, features, labels, motion, decisions, duplicates, matched_decisions,
                                 absorbed)

    keep = labels >= 0
    unit_ids = np.arange(int(labels.max()) + 1 if keep.any() else 0)
    samples_list, labels_list = [], []
    for segment_index in range(recording.get_num_segments()):
        in_segment = keep & (peaks["segment_index"] == segment_index)
        samples_list.append(peaks["sample_index"][in_segment])
        labels_list.append(labels[in_segment])
    sorting = NumpySorting.from_samples_and_labels(
        samples_list, labels_list, recording.sampling_frequency, unit_ids=unit_ids
    )
    return sorting, _outputs(peaks, locations, features, labels, motion, decisions)


def matched_split_config(params: dict) -> SplitConfig:
    """The split of matched units' settings: ``split_matched_kwargs`` over ``split_kwargs``."""
    return SplitConfig(**{**params["split_kwargs"], **params["split_matched_kwargs"]})


def split_matched_units(recording, sorting, peaks: np.ndarray, labels: np.ndarray, noise_levels: np.ndarray,
                        config: SplitConfig, job_kwargs: dict, seed: int | None = 0):
    """Split the units of a matched sorting as :func:`~si_amortized.sorters.splitting.split_clusters` splits clusters.

    Each unit's waveform features are read on the channels around its cluster's most frequent peak channel.

    Parameters
    ----------
    recording : BaseRecording
        The traces matching ran on.
    sorting : BaseSorting
        The matched units; their ids are cluster labels of ``labels``.
    peaks, labels : np.ndarray, shape (num_peaks,)
        The detected peaks and their clusters.
    noise_levels : np.ndarray, shape (num_channels,)
    config : SplitConfig
    job_kwargs : dict
    seed : int | None, default: 0

    Returns
    -------
    sorting : NumpySorting
        The same spikes; a split unit keeps its id for one half, the other half gets a new one (after every
        cluster label, so an id that is not a label is a split-off half).
    decisions : list of dict
        As :func:`~si_amortized.sorters.splitting.split_labels`, with ``unit`` (the matched unit's id) for
        ``cluster``.
    """
    spikes = sorting.to_spike_vector()
    unit_ids = np.asarray(sorting.unit_ids)
    main = np.array([np.bincount(peaks["channel_index"][labels == u]).argmax() for u in unit_ids], dtype=np.int64)
    matched = np.zeros(spikes.size, dtype=[("sample_index", "int64"), ("channel_index", "int64"),
                                           ("segment_index", "int64")])
    matched["sample_index"] = spikes["sample_index"]
    matched["segment_index"] = spikes["segment_index"]
    matched["channel_index"] = main[spikes["unit_index"]]
    unit_index = spikes["unit_index"].astype(np.int64)
    new_index, decisions = split_clusters(recording, matched, unit_index, noise_levels, config, job_kwargs, seed=seed,
                                          relabel=False)
    for d in decisions:
        d["unit"] = unit_ids[d.pop("cluster")].item()
    extra = int(new_index.max()) + 1 - unit_ids.size
    if extra == 0:
        return sorting, decisions
    first_new = max(int(labels.max()), int(unit_ids.max())) + 1  # never a cluster's label
    new_ids = np.concatenate([unit_ids, first_new + np.arange(extra)]).astype(unit_ids.dtype)
    out = spikes.copy()
    out["unit_index"] = new_index
    from spikeinterface.core import NumpySorting

    return NumpySorting(out, sorting.sampling_frequency, new_ids), decisions


def _outputs(peaks, locations, features, labels, motion, decisions, duplicates=(), matched_decisions=(),
             absorbed=()) -> dict:
    outputs = dict(peaks=peaks, locations=locations, features=features, labels=labels, split_decisions=decisions,
                   duplicate_decisions=list(duplicates), absorb_decisions=list(absorbed),
                   matched_split_decisions=list(matched_decisions))
    if motion is not None:
        outputs["motion"] = motion
    return outputs


def register_location_sorter() -> None:
    """Make ``"location_sorter"`` a sorter name of ``spikeinterface.sorters`` (``run_sorter``, ``SorterStudy``)."""
    from spikeinterface.sorters import sorterlist

    existing = sorterlist.sorter_dict.get(LocationSorter.sorter_name)
    if existing is not None and existing is not LocationSorter and existing.__module__ != LocationSorter.__module__:
        raise ValueError(f"Another sorter is already registered as {LocationSorter.sorter_name!r}: {existing}")
    sorterlist.sorter_dict[LocationSorter.sorter_name] = LocationSorter
    sorterlist.sorter_full_list[:] = [
        s for s in sorterlist.sorter_full_list if s.sorter_name != LocationSorter.sorter_name
    ] + [LocationSorter]


def read_sorter_features(folder) -> dict:
    """The peaks, locations, features and labels a ``location_sorter`` run saved (``save_features=True``).

    Parameters
    ----------
    folder : str | Path
        The ``folder`` given to ``run_sorter``.

    Returns
    -------
    dict
        ``peaks``, ``locations``, ``features``, ``labels`` arrays and the ``params`` used; ``split_decisions``
        (the evidence for and against each judged cluster split: sizes, observed and expected coincidences);
        ``duplicate_decisions`` (each pair of units judged to be one cell after matching: template cosine,
        observed and expected coincidences, merged or not); ``absorb_decisions`` (each unit matching emptied:
        its matched fraction, the most alike larger unit, lagged cosine, lag, coincidences, absorbed or not);
        ``matched_split_decisions`` (the same evidence for
        each judged split of a matched unit, keyed by ``unit``; empty without ``split_matched``);
        ``motion`` (``spikeinterface.core.motion.Motion``) when the run corrected motion.
    """
    folder = Path(folder)
    out = {name: np.load(folder / "sorter_output" / f"{name}.npy") for name in ("peaks", "locations", "features", "labels")}
    out["params"] = json.loads((folder / "spikeinterface_params.json").read_text())["sorter_params"]
    for name in _DECISIONS:
        decisions = folder / "sorter_output" / f"{name}.json"
        if decisions.is_file():
            out[name] = json.loads(decisions.read_text())
    if (folder / "sorter_output" / "motion").is_dir():
        from spikeinterface.core.motion import Motion

        out["motion"] = Motion.load(folder / "sorter_output" / "motion")
    return out
