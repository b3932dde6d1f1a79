"""Spike sorting from locations with Gaussian mixtures, scored against ground truth (the VAE paper's Figure 2).

The ground-truth spikes are clustered by a GMM over their estimated locations (x, y), optionally with
whitened PCs of the peak-channel waveform, for several numbers of mixture components; each labelling
is scored with SpikeInterface's ``compare_sorter_to_ground_truth``.
"""

from __future__ import annotations

import numpy as np

from spikeinterface.core import NumpySorting


def location_features(locations: np.ndarray, pcs: np.ndarray | None = None, pc_scale: float = 5.0) -> np.ndarray:
    """``(num_spikes, 2 [+ num_pcs])``: x, y (um) and ``pc_scale`` times the whitened PCs."""
    columns = [np.asarray(locations["x"], float), np.asarray(locations["y"], float)]
    if pcs is not None and pcs.size:
        columns += list(pc_scale * np.asarray(pcs, float).T)
    return np.column_stack(columns)


def whitened_waveform_pcs(recording, peaks, *, n_pcs: int = 2, seed: int = 0, job_kwargs=None) -> np.ndarray:
    """``(num_peaks, n_pcs)`` whitened PCs of each peak's waveform on its channel (-0.5 to +1 ms)."""
    from ..sorters.features import fit_whitened_pca, peak_channel_waveforms, random_peak_subset

    waveforms = peak_channel_waveforms(recording, peaks, job_kwargs=job_kwargs)
    rng_subset = random_peak_subset(np.arange(len(peaks)), 5000, seed)
    pca = fit_whitened_pca(waveforms[rng_subset], n_pcs, seed=seed)
    return ((waveforms - pca["pca_mean"]) @ pca["pca_components"].T) / pca["pca_scale"]


def gmm_labels(features: np.ndarray, n_components: int, *, seed: int = 0, covariance_type: str = "full") -> np.ndarray:
    """GMM labels of the spikes with finite features; -1 for the others.

    Parameters
    ----------
    features : np.ndarray
        ``(num_spikes, num_features)``.
    n_components : int
    seed : int, default: 0
    covariance_type : str, default: "full"

    Returns
    -------
    np.ndarray
        ``(num_spikes,)`` int64.
    """
    from sklearn.mixture import GaussianMixture

    labels = np.full(features.shape[0], -1, dtype="int64")
    valid = np.all(np.isfinite(features), axis=1)
    n = int(min(n_components, valid.sum()))
    if n < 1:
        return labels
    mean = features[valid].mean(axis=0)
    gmm = GaussianMixture(n_components=n, covariance_type=covariance_type, random_state=seed, reg_covar=1e-3)
    labels[valid] = gmm.fit_predict(features[valid] - mean)
    return labels


def score_labels(gt_sorting, peaks: np.ndarray, labels: np.ndarray, *, well_detected_score: float = 0.8) -> dict:
    """Score a labelling of ground-truth spikes with ``compare_sorter_to_ground_truth``.

    Parameters
    ----------
    gt_sorting : BaseSorting
    peaks : np.ndarray
        ``(num_spikes,)`` with ``sample_index`` and ``segment_index``.
    labels : np.ndarray
        ``(num_spikes,)``; -1 = unassigned.
    well_detected_score : float, default: 0.8

    Returns
    -------
    dict
        Mean ``accuracy``, ``precision``, ``recall`` over ground-truth units, ``num_well_detected``,
        ``num_units`` (found), ``comparison`` (the GroundTruthComparison).
    """
    from spikeinterface.comparison import compare_sorter_to_ground_truth

    sorting = labels_to_sorting(peaks, labels, gt_sorting.sampling_frequency, gt_sorting.get_num_segments())
    comparison = compare_sorter_to_ground_truth(gt_sorting, sorting, exhaustive_gt=True)
    perf = comparison.get_performance(method="by_unit")
    return dict(
        accuracy=float(perf["accuracy"].astype(float).mean()),
        precision=float(perf["precision"].astype(float).mean()),
        recall=float(perf["recall"].astype(float).mean()),
        num_well_detected=int(comparison.count_well_detected_units(well_detected_score)),
        num_units=int(sorting.get_num_units()),
        comparison=comparison,
    )


def labels_to_sorting(peaks: np.ndarray, labels: np.ndarray, sampling_frequency: float, num_segments: int = 1):
    """NumpySorting of the labelled peaks (label -1 left out)."""
    keep = labels >= 0
    unit_ids = np.unique(labels[keep])
    samples = [peaks["sample_index"][keep & (peaks["segment_index"] == s)] for s in range(num_segments)]
    labs = [labels[keep & (peaks["segment_index"] == s)] for s in range(num_segments)]
    return NumpySorting.from_samples_and_labels(samples, labs, sampling_frequency, unit_ids=unit_ids)


def accuracy_vs_components(
    gt_sorting,
    peaks: np.ndarray,
    features: np.ndarray,
    n_components_list,
    *,
    seed: int = 0,
) -> list[dict]:
    """GMM sorting scores for each number of components.

    Returns
    -------
    list of dict
        One per entry of ``n_components_list``: ``n_components`` and the means of :func:`score_labels`
        (without the comparison object).
    """
    rows = []
    for n in n_components_list:
        scores = score_labels(gt_sorting, peaks, gmm_labels(features, int(n), seed=seed))
        scores.pop("comparison")
        rows.append(dict(n_components=int(n), **scores))
    return rows


def default_components_grid(num_cells: int, size: str) -> list[int]:
    """Numbers of GMM components tried: around the number of ground-truth cells.

    Each full-covariance GMM with ~100 components on ~15k spikes takes tens of seconds on one core, so
    even the full size tries four values.
    """
    factors = (0.5, 1.0, 1.5) if size != "full" else (0.5, 1.0, 1.5, 2.0)
    return sorted({max(2, int(round(f * num_cells))) for f in factors})
