"""Motion benchmark: ``correct_motion`` with each peak localizer on drifting recordings with known drift.

The recordings come from ``spikeinterface.generation.generate_drifting_recording`` (NP1-like probe built
offline), in three named drift scenarios (:func:`drift_scenarios`). The estimated displacement is compared
with the ground truth at the estimate's own temporal and spatial bins (:func:`true_displacement_at`), after
removing its mean over time per spatial bin, since motion is only estimated up to an offset
(:func:`motion_errors`).

Examples
--------
>>> from si_amortized.evaluation.motion import drift_scenarios, run_motion_benchmark, format_motion_table
>>> result = run_motion_benchmark(drift_scenarios(), methods=("center_of_mass", "vae"), duration=30.0)
>>> print(format_motion_table(result.table))
"""

from __future__ import annotations

import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .formatting import format_number, markdown_table
from .motion_oracle import correct_motion_peaks, estimate_motion_oracle, oracle_scatter_um

__all__ = [
    "MOTION_METHODS",
    "REFERENCE_METHOD",
    "DriftScenario",
    "MotionBenchmarkResult",
    "METHOD_VARIANTS",
    "parse_method_settings",
    "add_reference_ratios",
    "drift_scenarios",
    "estimate_motion_with",
    "seed_noise_levels",
    "format_motion_table",
    "generate_scenario_recording",
    "generate_scenario_ground_truth",
    "mearec_scenario_ground_truth",
    "mearec_scenario_path",
    "mearec_scenario_recording",
    "motion_errors",
    "motion_residuals",
    "plot_motion",
    "run_motion_benchmark",
    "scenario_drift_vector",
    "scenario_ground_truth",
    "step_bins",
    "timed_localization",
    "true_displacement_at",
    "warm_up_detector",
]

#: Localization methods compared by default (SpikeInterface's three, and the plugin's "vae").
MOTION_METHODS = ("center_of_mass", "monopolar_triangulation", "grid_convolution", "vae")
#: The method the ratios of the table are taken against.
REFERENCE_METHOD = "monopolar_triangulation"
#: Sampling frequency (Hz) of the drift vectors given to MEArec.
MEAREC_DRIFT_FS = 50.0
#: ``correct_motion`` preset of the benchmark.
PRESET = "nonrigid_fast_and_accurate"


@dataclass(frozen=True, kw_only=True)
class DriftScenario:
    """A drift pattern, in fractions of the recording's duration so that it fits any duration.

    Parameters
    ----------
    name : str
        Short name (table and figure file names).
    description : str
        One line for the report.
    drift_mode : "zigzag" | "bump", default: "zigzag"
        ``make_one_displacement_vector``'s mode.
    drift_um : float, default: 30.0
        Peak-to-peak vertical drift of the units that move most (from +drift_um / 2 to -drift_um / 2).
    start_fraction : float, default: 0.1
        The drift starts at this fraction of the duration.
    period_fraction : float, default: 0.5
        Zigzag period, as a fraction of the duration.
    bump_interval_fraction : tuple of float, default: (0.12, 0.25)
        Bumps: the range of the random intervals between jumps, as fractions of the duration.
    non_rigid_gradient : float | None, default: None
        None: rigid. f in (0, 1): the displacement factor goes linearly with depth from 1 (bottom of the units)
        to f (top), so the top moves f times as much as the bottom.
    """

    name: str
    description: str
    drift_mode: str = "zigzag"
    drift_um: float = 30.0
    start_fraction: float = 0.1
    period_fraction: float = 0.5
    bump_interval_fraction: tuple = (0.12, 0.25)
    non_rigid_gradient: float | None = None

    def __post_init__(self):
        if self.drift_mode not in ("zigzag", "bump"):
            raise ValueError(f"drift_mode must be 'zigzag' or 'bump', not {self.drift_mode!r}")
        if not 0.0 <= self.start_fraction < 1.0:
            raise ValueError("start_fraction must be in [0, 1)")

    def displacement_kwargs(self, duration: float) -> dict:
        """``generate_displacement_vector_kwargs`` of ``generate_drifting_recording`` for ``duration`` s.

        Parameters
        ----------
        duration : float
            Recording duration in seconds.

        Returns
        -------
        dict
            Sampled at 5 Hz, vertical drift between +drift_um / 2 and -drift_um / 2, one motion.
        """
        motion = dict(drift_mode=self.drift_mode, non_rigid_gradient=self.non_rigid_gradient,
                      t_start_drift=self.start_fraction * duration, t_end_drift=None)
        if self.drift_mode == "zigzag":
            motion["period_s"] = self.period_fraction * duration
        else:
            motion["bump_interval_s"] = tuple(f * duration for f in self.bump_interval_fraction)
        half = self.drift_um / 2.0
        return dict(displacement_sampling_frequency=5.0, drift_start_um=[0.0, half], drift_stop_um=[0.0, -half],
                    drift_step_um=1.0, motion_list=[motion])


def drift_scenarios() -> dict[str, DriftScenario]:
    """The benchmark's drift scenarios, by name.

    Returns
    -------
    dict of str to DriftScenario
        ``"zigzag"``: slow rigid zigzag, 30 um peak to peak, period half the duration;
        ``"bumps"``: rigid jumps between -12.5, 0 and +12.5 um every 12-25 % of the duration (+-15 um jumps,
        multiples of the decentralized estimator's 5 um histogram bins, were recovered exactly by most methods);
        ``"nonrigid"``: the zigzag with a depth gradient (the top moves 0.2 times as much as the bottom).
    """
    scenarios = [
        DriftScenario(name="zigzag", description="slow rigid zigzag, 30 um peak to peak, period duration / 2"),
        DriftScenario(name="bumps", drift_mode="bump", drift_um=25.0,
                      description="rigid jumps between -12.5, 0 and +12.5 um every 12-25 % of the duration"),
        DriftScenario(name="nonrigid", description="zigzag 30 um at the bottom, 6 um at the top (linear in depth)",
                      non_rigid_gradient=0.2),
    ]
    return {s.name: s for s in scenarios}


def generate_scenario_recording(scenario: DriftScenario, duration: float = 60.0, num_channels: int = 64,
                                num_units: int = 30, seed: int = 0):
    """The drifting recording of a scenario on an NP1-like probe.

    Parameters
    ----------
    scenario : DriftScenario
    duration : float, default: 60.0
        Seconds.
    num_channels : int, default: 64
        Channels of :func:`si_amortized.datasets.probes.neuropixels1_like_probe` (a multiple of 4).
    num_units : int, default: 30
    seed : int, default: 0

    Returns
    -------
    recording : BaseRecording
        The drifting recording (lazy).
    info : dict
        ``generate_drifting_recording``'s extra outputs: ``unit_displacements`` (num_times, num_units, 2),
        ``unit_locations`` (num_units, 3), ``displacement_sampling_frequency``, ...
    """
    recording, _, info = generate_scenario_ground_truth(scenario, duration, num_channels, num_units, seed)
    return recording, info


def generate_scenario_ground_truth(scenario: DriftScenario, duration: float = 60.0, num_channels: int = 64,
                                   num_units: int = 30, seed: int = 0):
    """:func:`generate_scenario_recording` with the ground-truth sorting (for sorter benchmarks).

    Returns
    -------
    recording : BaseRecording
    sorting : BaseSorting
        The units' spike trains.
    info : dict
    """
    from spikeinterface.generation import generate_drifting_recording

    from ..datasets.probes import neuropixels1_like_probe

    _, recording, sorting, info = generate_drifting_recording(
        num_units=num_units, duration=float(duration), seed=seed, probe=neuropixels1_like_probe(num_channels),
        extra_outputs=True, generate_displacement_vector_kwargs=scenario.displacement_kwargs(duration),
    )
    return recording, sorting, info


def scenario_drift_vector(scenario: DriftScenario, duration: float, seed: int = 0) -> tuple[np.ndarray, float]:
    """The scenario's displacement along the probe (um) over time, as ``generate_drifting_recording`` makes it.

    Parameters
    ----------
    scenario : DriftScenario
    duration : float
        Seconds.
    seed : int, default: 0
        Seed of the bumps' random intervals.

    Returns
    -------
    vector : np.ndarray, shape (int(duration * fs),)
        Displacement of the units that move most (the deepest, for a non-rigid scenario), sampled from t = 0.
    fs : float
        Its sampling frequency (Hz).
    """
    from spikeinterface.generation.drifting_generator import generate_displacement_vector

    kwargs = scenario.displacement_kwargs(duration)
    _, vectors, _, fs, _ = generate_displacement_vector(duration, np.array([[0.0, 0.0], [0.0, 1.0]]), seed=seed,
                                                       **kwargs)
    vector = np.asarray(vectors[:, 1, 0], dtype="float64")
    num_times = int(duration * fs)
    times = np.arange(num_times) / fs
    return np.interp(times, np.arange(vector.size) / fs, vector), float(fs)


def mearec_scenario_path(scenario: DriftScenario, templates, duration: float = 60.0, n_exc: int = 10,
                         n_inh: int = 10, noise_level: float = 10.0, seed: int = 0):
    """The MEArec file of :func:`mearec_scenario_recording` (simulated once, then read from the user cache).

    Parameters
    ----------
    See :func:`mearec_scenario_recording`.

    Returns
    -------
    Path
        MEArec ``.h5`` file (``load_mearec`` gives its recording and ground-truth sorting).
    """
    from ..datasets.mearec_drift import simulate_drifting_recording

    vector, fs = scenario_drift_vector(scenario, duration, seed)
    # at 50 Hz: MEArec gives a spike the vector's next sample, so the coarse 5 Hz steps would lag by up to 0.2 s
    fine = np.arange(int(duration * MEAREC_DRIFT_FS)) / MEAREC_DRIFT_FS
    vector, fs = np.interp(fine, np.arange(vector.size) / fs, vector), MEAREC_DRIFT_FS
    return simulate_drifting_recording(templates, vector, fs, duration=duration, n_exc=n_exc, n_inh=n_inh,
                                       non_rigid_min_factor=scenario.non_rigid_gradient, noise_level=noise_level,
                                       seed=seed)


def mearec_scenario_recording(scenario: DriftScenario, templates, duration: float = 60.0, n_exc: int = 10,
                              n_inh: int = 10, noise_level: float = 10.0, seed: int = 0):
    """A MEArec recording (biophysical drifting templates) that drifts as ``scenario`` says.

    Parameters
    ----------
    scenario : DriftScenario
        Its drift vector (:func:`scenario_drift_vector`) moves every cell; a non-rigid scenario's gradient
        becomes MEArec's linear non-rigid mode (deepest cell factor 1, shallowest ``non_rigid_gradient``).
    templates : path
        Drifting templates of :func:`si_amortized.datasets.mearec_drift.simulate_drifting_templates`.
    duration : float, default: 60.0
    n_exc, n_inh : int, default: 10, 10
    noise_level : float, default: 10.0
        uV, before MEArec's band-pass filter.
    seed : int, default: 0

    Returns
    -------
    recording : BaseRecording
        The band-passed MEArec recording (cached in the user cache).
    info : dict
        Its true displacement, in the form :func:`true_displacement_at` reads
        (:func:`si_amortized.datasets.mearec_drift.drifting_ground_truth`).
    """
    recording, _, info = mearec_scenario_ground_truth(scenario, templates, duration, n_exc, n_inh, noise_level, seed)
    return recording, info


def mearec_scenario_ground_truth(scenario: DriftScenario, templates, duration: float = 60.0, n_exc: int = 10,
                                 n_inh: int = 10, noise_level: float = 10.0, seed: int = 0):
    """:func:`mearec_scenario_recording` with the ground-truth sorting: ``(recording, sorting, info)``."""
    from ..datasets.mearec import load_mearec
    from ..datasets.mearec_drift import drifting_ground_truth

    path = mearec_scenario_path(scenario, templates, duration, n_exc, n_inh, noise_level, seed)
    recording, sorting = load_mearec(path)
    return recording, sorting, drifting_ground_truth(path)


def scenario_ground_truth(scenario: DriftScenario, duration: float, num_channels: int, num_units: int, seed: int,
                          mearec_templates=None):
    """``(recording, sorting, info)`` of a scenario: ``spikeinterface.generation``'s
    (:func:`generate_scenario_ground_truth`), or with ``mearec_templates`` MEArec's (``num_units`` cells, half of
    them inhibitory; :func:`mearec_scenario_ground_truth`)."""
    if mearec_templates is None:
        return generate_scenario_ground_truth(scenario, duration, num_channels, num_units, seed)
    return mearec_scenario_ground_truth(scenario, mearec_templates, duration, n_exc=num_units - num_units // 2,
                                        n_inh=num_units // 2, seed=seed)


def _truth_times(info: dict) -> np.ndarray:
    """Times (s) of the rows of ``info["unit_displacements"]``: sampled from t = 0, shape (num_times,)."""
    return np.arange(info["unit_displacements"].shape[0]) / float(info["displacement_sampling_frequency"])


def _interp_in_time(values: np.ndarray, times: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Linear interpolation of ``values`` (num_times, num_units) along time, clamped at both ends.

    Returns
    -------
    np.ndarray
        Shape (len(at), num_units).
    """
    out = np.empty((at.size, values.shape[1]))
    for u in range(values.shape[1]):
        out[:, u] = np.interp(at, times, values[:, u])
    return out


def _interp_in_depth(depths: np.ndarray, values: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Piecewise-linear interpolation across units by depth, extrapolated linearly beyond the end units.

    Parameters
    ----------
    depths : np.ndarray
        Unit depths, shape (num_units,); units at the same depth are averaged.
    values : np.ndarray
        Per-unit displacement at each time, shape (num_times, num_units).
    at : np.ndarray
        Depths to evaluate, shape (num_bins,).

    Returns
    -------
    np.ndarray
        Shape (num_times, num_bins).
    """
    unique, inverse = np.unique(depths, return_inverse=True)
    summed = np.zeros((values.shape[0], unique.size))
    np.add.at(summed.T, inverse, values.T)
    mean = summed / np.bincount(inverse, minlength=unique.size)
    if unique.size == 1:
        return np.repeat(mean, at.size, axis=1)
    # segment index of each depth: 0 .. num_unique - 2 (the end segments extend beyond the units)
    seg = np.clip(np.searchsorted(unique, at, side="right") - 1, 0, unique.size - 2)
    w = (at - unique[seg]) / (unique[seg + 1] - unique[seg])
    return mean[:, seg] * (1.0 - w) + mean[:, seg + 1] * w


def true_displacement_at(info: dict, temporal_bins_s, spatial_bins_um) -> np.ndarray:
    """Ground-truth vertical displacement at a motion estimate's bins.

    At each time the units' y displacements are interpolated across units by depth (their y location),
    linearly, and extrapolated linearly beyond the deepest and shallowest units (the generator's non-rigid
    drift is linear in depth). Rigid drift gives the same value at every depth.

    Parameters
    ----------
    info : dict
        Extra outputs of ``generate_drifting_recording``: ``unit_displacements`` (num_times, num_units, 2),
        ``unit_locations`` (num_units, 3) and ``displacement_sampling_frequency`` (Hz, rows from t = 0).
    temporal_bins_s : array-like
        Bin centres in seconds, shape (num_temporal_bins,); clamped to the ground truth's time range.
    spatial_bins_um : array-like
        Bin depths in um, shape (num_spatial_bins,).

    Returns
    -------
    np.ndarray
        Displacement in um, shape (num_temporal_bins, num_spatial_bins).
    """
    temporal_bins_s = np.asarray(temporal_bins_s, dtype="float64").ravel()
    spatial_bins_um = np.asarray(spatial_bins_um, dtype="float64").ravel()
    dy = np.asarray(info["unit_displacements"], dtype="float64")[:, :, 1]
    depths = np.asarray(info["unit_locations"], dtype="float64")[:, 1]
    at_times = _interp_in_time(dy, _truth_times(info), temporal_bins_s)
    return _interp_in_depth(depths, at_times, spatial_bins_um)


def motion_residuals(motion, info: dict, segment_index: int = 0) -> np.ndarray:
    """Estimated minus true displacement, minus its mean over time per spatial bin.

    Parameters
    ----------
    motion : spikeinterface.core.motion.Motion
        An estimate (vertical direction).
    info : dict
        See :func:`true_displacement_at`.
    segment_index : int, default: 0

    Returns
    -------
    np.ndarray
        Residual in um, shape (num_temporal_bins, num_spatial_bins).
    """
    return _residuals_and_truth(motion, info, segment_index)[0]


def _residuals_and_truth(motion, info: dict, segment_index: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`motion_residuals` and the true displacement at the motion's bins, from one interpolation."""
    estimate = np.asarray(motion.displacement[segment_index], dtype="float64")
    truth = true_displacement_at(info, motion.temporal_bins_s[segment_index], motion.spatial_bins_um)
    error = estimate - truth
    return error - error.mean(axis=0, keepdims=True), truth


def step_bins(truth: np.ndarray, margin: int = 2, min_step_um: float = 1.0) -> np.ndarray:
    """Time bins near a jump of the true displacement.

    A jump is a change between consecutive bins (at any depth) larger than both ``min_step_um`` and three
    times the median change (so a steady drift, however fast, has none). The ``margin`` bins on each side of
    the step are marked (the two that straddle it included): a binned, temporally smoothed estimate cannot
    follow a step there.

    Parameters
    ----------
    truth : np.ndarray, shape (num_temporal_bins, num_spatial_bins)
        True displacement (um) at the bins.
    margin : int, default: 2
    min_step_um : float, default: 1.0

    Returns
    -------
    np.ndarray of bool, shape (num_temporal_bins,)
    """
    truth = np.asarray(truth, dtype="float64")
    near = np.zeros(truth.shape[0], dtype=bool)
    if truth.shape[0] < 2:
        return near
    change = np.abs(np.diff(truth, axis=0)).max(axis=1)
    for i in np.flatnonzero(change > max(min_step_um, 3.0 * np.median(change))):
        near[max(0, i - margin + 1): i + 1 + margin] = True
    return near


def motion_errors(motion, info: dict, segment_index: int = 0) -> dict:
    """RMS and 95th percentile of the absolute residual over time bins and depths (offset removed).

    Parameters
    ----------
    motion : spikeinterface.core.motion.Motion
    info : dict
        See :func:`true_displacement_at`.
    segment_index : int, default: 0

    Returns
    -------
    dict
        ``rms_um``, ``p95_um`` (um), ``num_temporal_bins``, ``num_spatial_bins``; ``rms_steady_um``, the RMS
        over the bins away from jumps of the truth (:func:`step_bins`; all bins when it has none), and
        ``num_step_bins``, the bins left out of it.
    """
    residual, truth = _residuals_and_truth(motion, info, segment_index)
    near = step_bins(truth)
    steady = residual[~near] if (~near).any() else residual
    return dict(rms_um=float(np.sqrt(np.mean(residual ** 2))), p95_um=float(np.percentile(np.abs(residual), 95)),
                rms_steady_um=float(np.sqrt(np.mean(steady ** 2))), num_step_bins=int(near.sum()),
                num_temporal_bins=int(residual.shape[0]), num_spatial_bins=int(residual.shape[1]))


#: Benchmark method names that are a ``localize_peaks`` method with settings: name -> (method, settings).
METHOD_VARIANTS = {
    # as a user calls it: under correct_motion's detector the node refines it (DETECTOR_DEFAULTS)
    "vae_pretrained": ("vae", dict(model="pretrained")),
    # as a user calls it without a model: under a detector the shipped localizer when one fits, else trained
    "vae_default": ("vae", dict(model="default")),
    # the node's analyzer defaults (this package's "vae" under a detector before the motion defaults)
    "vae_analyzer_defaults": ("vae", dict(likelihood="squared_error", learn_decay_length=False, refine_steps=0)),
    # trained on the recording, channels weighted by their inverse variance in the decoder's error
    "vae_gaussian": ("vae", dict(likelihood="gaussian", refine_steps=0)),
    # each location refined towards its posterior mode (Gauss-Newton steps from the encoder's)
    "vae_refined": ("vae", dict(likelihood="squared_error", refine_steps=5)),
    "vae_gaussian_refined": ("vae", dict(likelihood="gaussian", refine_steps=5)),
    "vae_pretrained_unrefined": ("vae", dict(model="pretrained", refine_steps=0)),
    "vae_pretrained_refined": ("vae", dict(model="pretrained", refine_steps=5)),
}


def parse_method_settings(method: str) -> tuple[str, dict] | None:
    """A method name with settings, ``"name:key=value,key=value"`` (e.g. ``"vae:amplitude_model=monopole"``).

    Values are read as JSON where they parse (numbers, ``true``/``false``/``null``), else kept as strings.

    Returns
    -------
    tuple of (str, dict) | None
        The method and its settings, or None for a name without ``":"``.

    Raises
    ------
    ValueError
        A setting without ``=``, or an empty name.
    """
    if ":" not in method:
        return None
    name, _, text = method.partition(":")
    if not name:
        raise ValueError(f"method {method!r}: no name before ':'")
    settings = {}
    for item in filter(None, text.split(",")):
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValueError(f"method {method!r}: settings are key=value pairs separated by commas, not {item!r}")
        try:
            settings[key] = json.loads(value)
        except json.JSONDecodeError:
            settings[key] = value
    return name, settings


def _localize_kwargs(method: str, vae_kwargs: dict | None) -> dict:
    """``localize_peaks_kwargs`` of ``correct_motion`` for ``method``: the preset's own settings, or the VAE's.

    ``"vae_pretrained"`` is the ``"vae"`` method with the shipped localizer (``model="pretrained"``, no training);
    ``"vae"`` and the variants that train (``model=None``, given explicitly: under a peak detector the node's own
    default is the shipped localizer) take ``vae_kwargs`` under their own settings. ``"name:key=value,..."``
    (:func:`parse_method_settings`) is a method with settings, e.g. ``"vae:amplitude_model=monopole"`` (over
    ``vae_kwargs``) or ``"monopolar_triangulation:radius_um=50"``.
    """
    # the variants that train say so (model=None): under a detector the node's default is the shipped localizer
    vae_settings = {"model": None, **(dict(half_width_um=40.0) if vae_kwargs is None else dict(vae_kwargs))}
    parsed = parse_method_settings(method)
    if parsed is not None:
        name, settings = parsed
        return dict(method=name, **({**vae_settings, **settings} if name == "vae" else settings))
    if method in METHOD_VARIANTS:
        name, settings = METHOD_VARIANTS[method]
        if name == "vae" and "model" not in settings:
            return dict(method=name, **{**vae_settings, **settings})
        return dict(method=name, **settings)
    kwargs = dict(method=method)
    if method == "vae":
        kwargs.update(vae_settings)
    return kwargs


@contextmanager
def timed_localization(method: str):
    """Time the ``localize_peaks`` method ``method`` wherever SpikeInterface builds and runs its node.

    While the context is open, the method's node class is replaced by a subclass that adds the time spent
    constructing each node (the VAE's training happens there) and in its ``compute`` to ``clock["seconds"]``.
    The nodes must run in this process (``n_jobs=1``): workers' time is not seen.

    Parameters
    ----------
    method : str
        A key of SpikeInterface's ``peak_localization_methods``.

    Yields
    ------
    dict
        ``{"seconds": float}``, growing as the method runs.
    """
    from spikeinterface.sortingcomponents.peak_localization.method_list import peak_localization_methods

    base = peak_localization_methods[method]
    clock = {"seconds": 0.0}

    class TimedLocalizer(base):
        def __init__(self, *args, **kwargs):
            t0 = time.perf_counter()
            super().__init__(*args, **kwargs)
            clock["seconds"] += time.perf_counter() - t0

        def compute(self, *args, **kwargs):
            t0 = time.perf_counter()
            out = super().compute(*args, **kwargs)
            clock["seconds"] += time.perf_counter() - t0
            return out

    peak_localization_methods[method] = TimedLocalizer
    try:
        yield clock
    finally:
        peak_localization_methods[method] = base


def estimate_motion_with(recording, method: str, vae_kwargs: dict | None = None, job_kwargs: dict | None = None,
                         preset: str = PRESET, estimate_motion_kwargs: dict | None = None):
    """``correct_motion`` (by default with the preset ``"nonrigid_fast_and_accurate"``) with one localization
    method, timed.

    Parameters
    ----------
    recording : BaseRecording
    method : str
        A ``localize_peaks`` method.
    vae_kwargs : dict | None, default: None
        Settings of the "vae" method; None: ``half_width_um=40.0``.
    job_kwargs : dict | None, default: None
        None: one job, 1 s chunks, no progress bar.
    preset : str, default: PRESET
        A ``correct_motion`` preset whose estimator works from peak locations (e.g. ``"dredge_fast"``,
        SpikeInterface's default, or ``"nonrigid_accurate"``); its localizer is replaced by ``method``.
    estimate_motion_kwargs : dict | None, default: None
        Estimator settings that update the preset's (``correct_motion``'s own merge), e.g.
        ``{"histogram_depth_smooth_um": 3.0}``; the same for every method.

    Returns
    -------
    motion : spikeinterface.core.motion.Motion
    run : dict
        ``wall_s`` (whole call, VAE training included), ``detect_localize_s``, ``estimate_s``, ``num_peaks`` and
        ``localize_s``: the localizer's own time (its node's construction, the VAE's training included, and its
        compute; :func:`timed_localization`), NaN unless ``n_jobs`` is 1.
    """
    from spikeinterface.preprocessing import correct_motion

    job_kwargs = dict(n_jobs=1, chunk_duration="1s", progress_bar=False) if job_kwargs is None else job_kwargs
    localize_kwargs = _localize_kwargs(method, vae_kwargs)
    in_process = int(job_kwargs.get("n_jobs", 1)) == 1
    with timed_localization(localize_kwargs["method"]) as clock:
        t0 = time.perf_counter()
        _, motion, motion_info = correct_motion(
            recording, preset=preset, localize_peaks_kwargs=localize_kwargs,
            estimate_motion_kwargs=dict(estimate_motion_kwargs or {}),
            output_motion=True, output_motion_info=True, **job_kwargs,
        )
        wall = time.perf_counter() - t0
    times = motion_info.get("run_times", {})
    run = dict(wall_s=wall, detect_localize_s=times.get("detect_and_localize", np.nan),
               estimate_s=times.get("estimate_motion", np.nan), num_peaks=int(motion_info["peaks"].size),
               localize_s=clock["seconds"] if in_process else np.nan)
    return motion, run


@dataclass(frozen=True)
class MotionBenchmarkResult:
    """What :func:`run_motion_benchmark` returns.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per (scenario, method): ``scenario``, ``method``, ``rms_um``, ``p95_um``, ``wall_s``,
        ``speedup_vs_monopolar``, ``rms_vs_monopolar``, ``detect_localize_s``, ``estimate_s``, ``num_peaks``,
        ``localize_s`` (the localizer's own time, training included; see :func:`estimate_motion_with`) and
        ``localize_speedup_vs_monopolar``.
    motions : dict
        ``motions[scenario][method]``: the estimated ``Motion``.
    infos : dict
        ``infos[scenario]``: the generator's ground truth (see :func:`true_displacement_at`).
    """

    table: object
    motions: dict = field(default_factory=dict)
    infos: dict = field(default_factory=dict)


def add_reference_ratios(df, reference: str = REFERENCE_METHOD):
    """Speed and error ratios against ``reference`` measured on the same scenario.

    Parameters
    ----------
    df : pandas.DataFrame
        With ``scenario``, ``method``, ``wall_s`` and ``rms_um``.
    reference : str, default: "monopolar_triangulation"

    Returns
    -------
    pandas.DataFrame
        A copy with ``speedup_vs_monopolar`` (reference wall time / wall time: > 1 is faster) and
        ``rms_vs_monopolar`` (RMS / reference RMS: < 1 is more accurate); NaN where the scenario has no
        reference row; with ``localize_s``, also ``localize_speedup_vs_monopolar`` (the same for the
        localization alone).
    """
    df = df.copy()
    ref = df[df["method"] == reference].set_index("scenario")
    ref_wall = df["scenario"].map(ref["wall_s"]).astype(float)
    ref_rms = df["scenario"].map(ref["rms_um"]).astype(float)
    df["speedup_vs_monopolar"] = ref_wall / df["wall_s"].astype(float)
    df["rms_vs_monopolar"] = df["rms_um"].astype(float) / ref_rms
    if "localize_s" in df.columns:
        ref_localize = df["scenario"].map(ref["localize_s"]).astype(float)
        df["localize_speedup_vs_monopolar"] = ref_localize / df["localize_s"].astype(float)
    return df


def warm_up_detector(recording, preset: str = PRESET) -> None:
    """Run the preset's peak detector once on the recording's first second, so that its compiled loops exist.

    SpikeInterface's detectors compile (numba) on their first call in a process (2.2 s measured here).
    Whichever method of a benchmark ran first paid it, and the VAE under a detector pays it inside its own
    node (it detects its training peaks when it is built), so a run of ``--methods vae`` alone charged
    SpikeInterface's compilation to the VAE's localization time. Called once before the timed runs, it makes them independent of the
    order of the methods.

    Parameters
    ----------
    recording : BaseRecording
    preset : str, default: PRESET
        A ``correct_motion`` preset; its ``detect_kwargs`` are used.
    """
    from spikeinterface.preprocessing.motion import motion_options_preset
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    detect = dict(motion_options_preset[preset]["detect_kwargs"])
    method = detect.pop("method")
    first = recording.frame_slice(0, min(recording.get_num_samples(0), int(recording.sampling_frequency)))
    detect["noise_levels"] = np.ones(recording.get_num_channels(), dtype="float32")  # only the compilation matters
    detect_peaks(first, method=method, method_kwargs=detect, job_kwargs=dict(n_jobs=1, progress_bar=False))


def seed_noise_levels(recording, seed: int) -> np.ndarray:
    """Noise levels of ``recording`` from seeded random chunks, cached on it where ``correct_motion`` looks.

    ``correct_motion`` calls ``get_noise_levels(recording, return_in_uV=False)`` on unseeded chunks, and
    SpikeInterface keeps the first result as a property of the recording: computing it here first, seeded,
    makes the detected peaks (and so the whole benchmark) the same from run to run, and the same for every
    localizer of a run.

    Parameters
    ----------
    recording : BaseRecording
    seed : int

    Returns
    -------
    np.ndarray, shape (num_channels,)
        The noise levels (raw units).
    """
    from spikeinterface.core import get_noise_levels

    return get_noise_levels(recording, return_in_uV=False, force_recompute=True,
                            random_slices_kwargs=dict(seed=seed))


def run_motion_benchmark(
    scenarios: dict[str, DriftScenario] | list[DriftScenario],
    methods=MOTION_METHODS,
    duration: float = 60.0,
    num_channels: int = 64,
    num_units: int = 30,
    seed: int = 0,
    vae_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
    on_result: Callable | None = None,
    mearec_templates=None,
    preset: str = PRESET,
    estimate_motion_kwargs: dict | None = None,
) -> MotionBenchmarkResult:
    """Estimate motion with each method on each scenario's recording and score it against the ground truth.

    Parameters
    ----------
    scenarios : dict of str to DriftScenario | list of DriftScenario
        E.g. :func:`drift_scenarios` or a selection of it.
    methods : sequence of str, default: MOTION_METHODS
        ``localize_peaks`` methods (center_of_mass, monopolar_triangulation, grid_convolution, vae), a
        name of ``METHOD_VARIANTS`` (``"vae_pretrained"``), or ``"oracle"`` / ``"oracle+S"``: the detected peaks
        at their cells' true positions (plus S um of scatter; :mod:`si_amortized.evaluation.motion_oracle`).
    duration : float, default: 60.0
        Seconds per recording.
    num_channels : int, default: 64
        NP1-like probe channels.
    num_units : int, default: 30
    seed : int, default: 0
        Seed of the recordings (and of the VAE unless ``vae_kwargs`` sets one).
    vae_kwargs : dict | None, default: None
        Settings of the "vae" method; None: ``half_width_um=40.0``.
    job_kwargs : dict | None, default: None
        None: one job, 1 s chunks, no progress bar.
    on_result : callable | None, default: None
        Called as ``on_result(row, motion, info)`` after each (scenario, method), e.g. to write results as
        they come.
    mearec_templates : path | None, default: None
        None: recordings of ``spikeinterface.generation`` (:func:`generate_scenario_recording`). A file of
        drifting MEArec templates: MEArec recordings of biophysical cells drifting as each scenario says
        (:func:`mearec_scenario_recording`, ``num_units`` cells, half of them inhibitory; ``num_channels``
        is then the templates' probe's).
    preset : str, default: PRESET
        The ``correct_motion`` preset (see :func:`estimate_motion_with`).
    estimate_motion_kwargs : dict | None, default: None
        Estimator settings over the preset's, the same for every method (see :func:`estimate_motion_with`).

    Returns
    -------
    MotionBenchmarkResult
        ``table`` (pandas DataFrame), ``motions[scenario][method]`` and ``infos[scenario]``.
    """
    import pandas as pd

    scenario_list = list(scenarios.values()) if isinstance(scenarios, dict) else list(scenarios)
    if vae_kwargs is None:
        vae_kwargs = dict(half_width_um=40.0, seed=seed)
    rows, motions, infos = [], {}, {}
    for scenario in scenario_list:
        recording, sorting, info = scenario_ground_truth(scenario, duration, num_channels, num_units, seed,
                                                         mearec_templates)
        infos[scenario.name], motions[scenario.name] = info, {}
        detected = None  # correct_motion's peaks, once for every oracle method
        seed_noise_levels(recording, seed)
        if scenario is scenario_list[0]:
            warm_up_detector(recording, preset)
        for method in methods:
            scatter = oracle_scatter_um(method)
            if scatter is None:
                motion, run = estimate_motion_with(recording, method, vae_kwargs, job_kwargs, preset=preset,
                                                   estimate_motion_kwargs=estimate_motion_kwargs)
            else:  # the same peaks at their cells' true positions
                if detected is None:
                    detected = correct_motion_peaks(recording, job_kwargs, preset, estimate_motion_kwargs)
                motion, run = estimate_motion_oracle(recording, sorting, info, detected, scatter, seed=seed)
            row = dict(scenario=scenario.name, method=method, **motion_errors(motion, info), **run)
            rows.append(row)
            motions[scenario.name][method] = motion
            if on_result is not None:
                on_result(row, motion, info)
    table = add_reference_ratios(pd.DataFrame(rows)) if rows else pd.DataFrame()
    return MotionBenchmarkResult(table=table, motions=motions, infos=infos)


def format_motion_table(df) -> str:
    """Markdown table of the benchmark, one row per (scenario, method).

    Parameters
    ----------
    df : pandas.DataFrame
        ``run_motion_benchmark(...).table`` (``scenario``, ``method``, ``rms_um``, ``p95_um``, ``wall_s``;
        ``speedup_vs_monopolar``, ``rms_vs_monopolar`` and ``num_peaks`` when present).

    Returns
    -------
    str
        The table, ending with a newline.
    """
    columns = [("scenario", "scenario", None), ("method", "method", None), ("rms_um", "RMS error (um)", 2),
               ("p95_um", "p95 error (um)", 2), ("rms_steady_um", "RMS away from jumps (um)", 2),
               ("wall_s", "wall (s)", 1),
               ("speedup_vs_monopolar", "speed x monopolar", 2), ("localize_s", "localization (s)", 1),
               ("localize_speedup_vs_monopolar", "localization speed x monopolar", 1),
               ("rms_vs_monopolar", "RMS x monopolar", 2), ("num_peaks", "peaks", None)]
    columns = [c for c in columns if c[0] in df.columns]
    rows = []
    for record in df.to_dict("records"):
        rows.append([record[key] if digits is None else format_number(record[key], digits)
                     for key, _, digits in columns])
    return "\n".join(markdown_table([title for _, title, _ in columns], rows))


def _aligned(estimate: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """``estimate`` shifted by its mean difference to ``truth`` over time (motion is known up to an offset)."""
    return estimate - np.mean(estimate - truth, axis=0, keepdims=True)


def plot_motion(motions: dict, info: dict, title: str = "", all_bins: bool = False, segment_index: int = 0):
    """Estimated vs true displacement over time, one line per method, and the error per depth.

    Parameters
    ----------
    motions : dict of str to Motion
        Estimates by method name.
    info : dict
        Ground truth; see :func:`true_displacement_at`.
    title : str, default: ""
    all_bins : bool, default: False
        Also draw every spatial bin faintly (estimate and truth) behind the middle one.
    segment_index : int, default: 0

    Returns
    -------
    matplotlib.figure.Figure
        Not attached to pyplot (nothing to close); save it with ``fig.savefig(path)``. Left: displacement of
        the middle spatial bin (estimates aligned to the truth by their mean offset); right: RMS error by
        depth.
    """
    from matplotlib.figure import Figure

    fig = Figure(figsize=(12.0, 4.6), layout="constrained")
    ax_time, ax_depth = fig.subplots(1, 2, width_ratios=[2.4, 1.0])
    colors = {m: f"C{i}" for i, m in enumerate(motions)}
    truth_drawn = False
    for method, motion in motions.items():
        times = np.asarray(motion.temporal_bins_s[segment_index])
        depths = np.asarray(motion.spatial_bins_um)
        truth = true_displacement_at(info, times, depths)
        estimate = _aligned(np.asarray(motion.displacement[segment_index], dtype="float64"), truth)
        mid = (depths.size - 1) // 2
        if all_bins:
            ax_time.plot(times, estimate, color=colors[method], lw=0.6, alpha=0.25)
        if not truth_drawn:
            if all_bins:
                ax_time.plot(times, truth, color="k", lw=0.6, alpha=0.25)
            ax_time.plot(times, truth[:, mid], color="k", lw=3.0, alpha=0.35,
                         label=f"ground truth (bin at {depths[mid]:.0f} um)")
            truth_drawn = True
        rms = np.sqrt(np.mean((estimate - truth) ** 2))
        ax_time.plot(times, estimate[:, mid], color=colors[method], lw=1.3, label=f"{method} (RMS {rms:.1f} um)")
        ax_depth.plot(np.sqrt(np.mean((estimate - truth) ** 2, axis=0)), depths, "o-", color=colors[method],
                      label=method)
    ax_time.set_xlabel("time (s)")
    ax_time.set_ylabel("displacement (um)")
    ax_time.legend(fontsize=8, loc="best")
    ax_depth.set_xlabel("RMS error (um)")
    ax_depth.set_ylabel("depth of the spatial bin (um)")
    ax_depth.set_xlim(left=0)
    fig.suptitle(title or "estimated vs true displacement")
    return fig


def motion_section(fig_dir, scenarios: tuple, methods: tuple, duration: float, seed: int = 0,
                   job_kwargs: dict | None = None, num_channels: int = 64, num_units: int = 20) -> dict:
    """The benchmark report's motion section: :func:`run_motion_benchmark`, its table and a figure per scenario.

    Parameters
    ----------
    fig_dir : Path
        Where the figures go (``motion_<scenario>.png``).
    scenarios : tuple of str
        Names of :func:`drift_scenarios`.
    methods : tuple of str
    duration : float
    seed : int, default: 0
    job_kwargs : dict | None, default: None
    num_channels, num_units : int, default: 64, 20

    Returns
    -------
    dict
        ``description``, ``status``, ``tables`` (title, header, rows) and ``figures``, the report's section form.
    """
    import matplotlib.pyplot as plt

    from pathlib import Path

    available = drift_scenarios()
    unknown = sorted(set(scenarios) - set(available))
    if unknown:
        raise ValueError(f"Unknown drift scenarios {unknown}; choose among {sorted(available)}")
    result = run_motion_benchmark([available[name] for name in scenarios], methods=methods, duration=duration,
                                  num_channels=num_channels, num_units=num_units, seed=seed, job_kwargs=job_kwargs)
    table = result.table
    if REFERENCE_METHOD not in methods:  # no reference in this run: no ratios to it
        table = table.drop(columns=[c for c in table.columns if c.endswith("_vs_monopolar")])
    lines = format_motion_table(table).strip().splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    figures = []
    for name, motions in result.motions.items():
        fig = plot_motion(motions, result.infos[name], title=f"{name}: estimated vs true displacement")
        path = Path(fig_dir) / f"motion_{name}.png"
        fig.savefig(path, dpi=80)
        plt.close(fig)
        figures.append(path.name)
    description = (
        f"`correct_motion(preset='nonrigid_fast_and_accurate', localize_peaks_kwargs=dict(method=...))` on "
        f"`spikeinterface.generation` drifting recordings ({duration:g} s, {num_channels}-channel Neuropixels-1.0-like "
        f"probe, {num_units} units): RMS and 95th percentile of the estimated minus true displacement over time "
        "bins and depths, wall time of the whole estimation and the localizer's own part of it (its node's "
        "construction, the VAE's training included, and its compute), same run."
    )
    return dict(description=description, status="ok",
                tables=[dict(title="Motion estimation error", header=header, rows=rows)], figures=figures,
                table=table.to_dict("records"))
