"""Localization error against ground truth: every ground-truth spike localized by each method.

Each spike is localized from its ground-truth time and its unit's main channel (the extremum channel
of the ground-truth template, as SpikeInterface's ``spike_locations`` does), through
``localize_peaks``; the error is the 2D distance (in the probe plane) to the soma of the spike's unit.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from spikeinterface.core.node_pipeline import base_peak_dtype

LOCALIZATION_METHODS = ("vae", "center_of_mass", "monopolar_triangulation", "grid_convolution")


def ground_truth_peaks(
    recording, gt_sorting, *, max_spikes_per_unit: int = 200, seed: int = 0, job_kwargs: dict | None = None
) -> np.ndarray:
    """Ground-truth spikes as a peaks array, each on its unit's main channel.

    Parameters
    ----------
    recording : BaseRecording
    gt_sorting : BaseSorting
    max_spikes_per_unit : int, default: 200
        Spikes per unit used to estimate the templates that give the main channels.
    seed : int, default: 0
    job_kwargs : dict | None, default: None

    Returns
    -------
    np.ndarray
        ``(num_spikes,)`` with SpikeInterface's ``base_peak_dtype`` (``sample_index``, ``channel_index``,
        ``amplitude``, ``segment_index``), in the order of ``gt_sorting.to_spike_vector()``;
        ``amplitude`` is the template's extremum value on the main channel.
    """
    from spikeinterface.core import create_sorting_analyzer

    analyzer = create_sorting_analyzer(gt_sorting, recording, format="memory", sparse=False)
    analyzer.compute("random_spikes", max_spikes_per_unit=max_spikes_per_unit, seed=seed)
    analyzer.compute("templates", **dict(dict(progress_bar=False), **(job_kwargs or {})))
    templates = analyzer.get_extension("templates").get_data()  # (num_units, num_samples, num_channels)
    troughs = templates.min(axis=1)
    main_channels = troughs.argmin(axis=1)
    amplitudes = troughs[np.arange(len(main_channels)), main_channels]
    spikes = gt_sorting.to_spike_vector()
    peaks = np.zeros(spikes.size, dtype=base_peak_dtype)
    peaks["sample_index"] = spikes["sample_index"]
    peaks["channel_index"] = main_channels[spikes["unit_index"]]
    peaks["amplitude"] = amplitudes[spikes["unit_index"]]
    peaks["segment_index"] = spikes["segment_index"]
    return peaks


def subsample_spikes(gt_sorting, max_spikes_per_unit: int | None, seed: int = 0) -> np.ndarray:
    """Mask over ``gt_sorting.to_spike_vector()`` keeping at most ``max_spikes_per_unit`` random spikes per unit.

    Returns
    -------
    np.ndarray
        ``(num_spikes,)`` bool; all True when ``max_spikes_per_unit`` is None.
    """
    spikes = gt_sorting.to_spike_vector()
    if max_spikes_per_unit is None:
        return np.ones(spikes.size, dtype=bool)
    rng = np.random.default_rng(seed)
    keep = np.zeros(spikes.size, dtype=bool)
    for unit_index in range(gt_sorting.get_num_units()):
        where = np.flatnonzero(spikes["unit_index"] == unit_index)
        if where.size > max_spikes_per_unit:
            where = rng.choice(where, size=max_spikes_per_unit, replace=False)
        keep[where] = True
    return keep


def restrict_ground_truth(gt_sorting, keep: np.ndarray):
    """The ground truth restricted to the spikes of ``keep`` (a mask over its spike vector).

    Scores computed against it (``compare_sorter_to_ground_truth``) are not penalised for the spikes left out.

    Returns
    -------
    BaseSorting
        A NumpySorting with the same units and sorting properties (``gt_sorting`` itself if all are kept).
    """
    from spikeinterface.core import NumpySorting

    if np.all(keep):
        return gt_sorting
    subset = NumpySorting(gt_sorting.to_spike_vector()[keep], gt_sorting.sampling_frequency, gt_sorting.unit_ids)
    for key in gt_sorting.get_property_keys():
        subset.set_property(key, gt_sorting.get_property(key))
    return subset


def location_errors(locations: np.ndarray, unit_indices: np.ndarray, gt_unit_locations: np.ndarray) -> np.ndarray:
    """Per-spike 2D distance between estimated locations and the soma of the spike's unit.

    Parameters
    ----------
    locations : np.ndarray
        ``(num_spikes,)`` structured with fields ``x`` and ``y`` (um).
    unit_indices : np.ndarray
        ``(num_spikes,)`` index of each spike's ground-truth unit.
    gt_unit_locations : np.ndarray
        ``(num_units, 2 or 3)`` somas in SpikeInterface axes (x, y in the probe plane).

    Returns
    -------
    np.ndarray
        ``(num_spikes,)`` errors in um (NaN where the method gave no finite location).
    """
    estimated = np.column_stack([np.asarray(locations["x"], float), np.asarray(locations["y"], float)])
    truth = np.asarray(gt_unit_locations, float)[np.asarray(unit_indices), :2]
    return np.linalg.norm(estimated - truth, axis=1)


def summarize_errors(errors: np.ndarray) -> dict:
    """Mean, standard deviation, median of the finite errors, and the fraction that was not finite."""
    errors = np.asarray(errors, float)
    finite = errors[np.isfinite(errors)]
    if finite.size == 0:
        raise ValueError("No finite localization error to summarize")
    return dict(
        mean=float(finite.mean()), sd=float(finite.std()), median=float(np.median(finite)),
        num_spikes=int(errors.size), failed_fraction=float(1 - finite.size / errors.size),
    )


@dataclass
class LocalizationResult:
    """Locations of the ground-truth spikes by one method, with errors and timings."""

    method: str
    locations: np.ndarray
    errors: np.ndarray
    wall_time_s: float
    summary: dict = field(default_factory=dict)
    training_time_s: float = 0.0

    @property
    def spikes_per_second(self) -> float:
        """Localized spikes per second of inference (training excluded)."""
        return float(self.locations.size / max(self.wall_time_s - self.training_time_s, 1e-9))


def default_method_kwargs(method: str, *, vae_epochs: int | None = None, seed: int = 0) -> dict:
    """The ``method_kwargs`` the benchmark gives each localization method."""
    if method == "vae":
        kwargs = dict(seed=seed)
        if vae_epochs is not None:
            kwargs["epochs"] = int(vae_epochs)
        return kwargs
    return {}


def localize_ground_truth(
    recording,
    gt_sorting,
    methods=LOCALIZATION_METHODS,
    *,
    peaks: np.ndarray | None = None,
    training_peaks: np.ndarray | None = None,
    method_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
    seed: int = 0,
    progress=None,
) -> dict[str, LocalizationResult]:
    """Localize every ground-truth spike with each method and score it against the somas.

    Parameters
    ----------
    recording : BaseRecording
    gt_sorting : BaseSorting
        With the ``gt_unit_locations`` property.
    methods : sequence of str, default: all four
        ``localize_peaks`` method names.
    peaks : np.ndarray | None, default: None
        From :func:`ground_truth_peaks`; computed when None.
    training_peaks : np.ndarray | None, default: None
        Spikes the VAE localizer is trained on (e.g. all spikes of the recording when ``peaks`` is a
        subset); None trains it on ``peaks``. Its training time is counted in the wall time and reported
        apart (``training_time_s``).
    method_kwargs : dict | None, default: None
        ``{method: method_kwargs}`` overriding :func:`default_method_kwargs`.
    job_kwargs : dict | None, default: None
    seed : int, default: 0
    progress : callable | None, default: None
        Called with each method name before it runs (progress bars).

    Returns
    -------
    dict
        ``{method: LocalizationResult}``.
    """
    from spikeinterface.sortingcomponents.peak_localization import localize_peaks

    if peaks is None:
        peaks = ground_truth_peaks(recording, gt_sorting, seed=seed, job_kwargs=job_kwargs)
    gt_locations = gt_sorting.get_property("gt_unit_locations")
    unit_indices = gt_sorting.to_spike_vector()["unit_index"]
    method_kwargs = method_kwargs or {}
    results = {}
    for method in methods:
        if progress is not None:
            progress(method)
        kwargs = method_kwargs.get(method, default_method_kwargs(method, seed=seed))
        t0 = time.perf_counter()
        training = 0.0
        if method == "vae" and "model" not in kwargs:
            kwargs = dict(kwargs, model=train_vae_localizer(
                recording, peaks if training_peaks is None else training_peaks, **kwargs))
            training = time.perf_counter() - t0
        locations = localize_peaks(
            recording, peaks, method=method, method_kwargs=dict(kwargs), job_kwargs=dict(job_kwargs or {}), seed=seed
        )
        wall = time.perf_counter() - t0
        errors = location_errors(locations, unit_indices, gt_locations)
        results[method] = LocalizationResult(method, locations, errors, wall, summarize_errors(errors), training)
    return results


def train_vae_localizer(recording, peaks: np.ndarray, **vae_kwargs):
    """Train the VAE localizer of :mod:`si_amortized.localization` on ``peaks`` (its public functions).

    Parameters
    ----------
    recording : BaseRecording
    peaks : np.ndarray
        Training spikes (``sample_index``, ``channel_index``, ``segment_index``).
    **vae_kwargs
        Fields of the localizer's ``FeatureConfig``, ``ModelConfig`` and ``TrainingConfig``.

    Returns
    -------
    VaeLocalizer
    """
    from ..localization import prepare_localizer

    return prepare_localizer(recording, peaks, **vae_kwargs).model


def simulated_localizer_without_recording_templates(gt_sorting, probe: str, tolerance_um: float = 1e-3, **settings):
    """A simulation-trained localizer whose templates exclude every cell of a ground-truth recording.

    The packaged MEArec template library of ``probe`` minus the templates whose soma coincides with a
    ground-truth unit (the recording's own cells): no benchmark template is in the training data.

    Parameters
    ----------
    gt_sorting : BaseSorting
        With ``gt_unit_locations`` (SpikeInterface axes).
    probe : str
        A packaged library probe (``si_amortized.datasets.templates.LIBRARY_PROBES``).
    tolerance_um : float, default: 1e-3
    **settings
        Fields of the localizer's configs and of ``SimulationConfig`` (``spikes_per_template``, ...).

    Returns
    -------
    model : VaeLocalizer
    num_excluded : int
        Templates left out.
    """
    from dataclasses import fields

    from ..datasets.templates import load_template_library
    from ..localization import SimulationConfig, band_pass_templates, fit_simulated_localizer
    from ..localization.config import split_config_kwargs

    library = load_template_library(probe)
    somas = library.soma_locations
    units = np.asarray(gt_sorting.get_property("gt_unit_locations"), dtype="float64")
    distance = np.linalg.norm(somas[:, None, :] - units[None, :, :], axis=2).min(axis=1)
    keep = distance > tolerance_um
    simulation_names = {f.name for f in fields(SimulationConfig)}
    simulation = SimulationConfig(**{k: v for k, v in settings.items() if k in simulation_names})
    feature, model, training = split_config_kwargs({k: v for k, v in settings.items() if k not in simulation_names})
    fs = library.sampling_frequency
    templates = band_pass_templates(library.templates[keep].transpose(0, 2, 1), fs, simulation.bandpass_hz)
    localizer = fit_simulated_localizer(
        templates, somas[keep], library.channel_locations(), fs, feature, model, training, simulation,
        description=dict(probe=probe, source="packaged library minus the recording's cells",
                         num_excluded=int(np.sum(~keep))),
    )
    return localizer, int(np.sum(~keep))
