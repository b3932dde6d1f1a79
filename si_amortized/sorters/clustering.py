"""Density clustering of spike features that needs no number of clusters (mean shift or HDBSCAN).

The clusterer is fitted on at most ``max_spikes_fit`` spikes; every other spike takes the label of
its nearest fitted spike (noise included), so time and memory stay bounded on long recordings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, kw_only=True)
class ClusteringConfig:
    """How features become units.

    Parameters
    ----------
    clusterer : "mean_shift" | "hdbscan", default: "mean_shift"
        scikit-learn's ``MeanShift`` (with bin seeding, as HerdingSpikes) or ``HDBSCAN``.
    bandwidth : float, default: 6.0
        Mean-shift kernel bandwidth, in feature units (micrometres for locations).
    min_bin_freq : int, default: 5
        Mean shift: a seed bin needs this many spikes.
    min_cluster_size : int, default: 20
        HDBSCAN ``min_cluster_size``; also, after clustering, units with fewer spikes are dropped.
    min_samples : int | None, default: None
        HDBSCAN ``min_samples``.
    max_spikes_fit : int, default: 50000
        The clusterer sees at most this many (random) spikes; the rest are assigned by nearest neighbour.
    """

    clusterer: str = "mean_shift"
    bandwidth: float = 6.0
    min_bin_freq: int = 5
    min_cluster_size: int = 20
    min_samples: int | None = None
    max_spikes_fit: int = 50000

    def __post_init__(self):
        if self.clusterer not in ("mean_shift", "hdbscan"):
            raise ValueError(f"clusterer must be 'mean_shift' or 'hdbscan', not {self.clusterer!r}")
        if self.bandwidth <= 0:
            raise ValueError("bandwidth must be positive")
        if self.min_cluster_size < 2 or self.max_spikes_fit < 2:
            raise ValueError("min_cluster_size and max_spikes_fit must be at least 2")


def _fit_labels(features: np.ndarray, config: ClusteringConfig, seed: int | None) -> np.ndarray:
    if config.clusterer == "mean_shift":
        from sklearn.cluster import MeanShift

        model = MeanShift(
            bandwidth=config.bandwidth, bin_seeding=True, min_bin_freq=config.min_bin_freq, cluster_all=True
        )
        try:
            return model.fit_predict(features)
        except ValueError:  # no bin reached min_bin_freq: one seed per spike instead
            model.set_params(bin_seeding=False)
            return model.fit_predict(features)
    from sklearn.cluster import HDBSCAN

    model = HDBSCAN(min_cluster_size=config.min_cluster_size, min_samples=config.min_samples, copy=True)
    return model.fit_predict(features)


def cluster_features(features: np.ndarray, config: ClusteringConfig, seed: int | None = 0) -> np.ndarray:
    """Density clustering of per-spike features.

    Parameters
    ----------
    features : np.ndarray
        ``(num_spikes, num_features)``. Rows with a non-finite value are labelled -1.
    config : ClusteringConfig
    seed : int | None, default: 0
        Seeds the choice of the fitted subset.

    Returns
    -------
    np.ndarray
        ``(num_spikes,)`` int64 labels ``0..K-1`` ordered by decreasing size, -1 for noise and for
        units smaller than ``config.min_cluster_size``.
    """
    features = np.asarray(features, dtype="float64")
    labels = np.full(features.shape[0], -1, dtype="int64")
    valid = np.flatnonzero(np.all(np.isfinite(features), axis=1))
    if valid.size < config.min_cluster_size:
        return labels
    rng = np.random.default_rng(seed)
    fit_index = valid if valid.size <= config.max_spikes_fit else np.sort(
        rng.choice(valid, size=config.max_spikes_fit, replace=False)
    )
    fit_labels = _fit_labels(features[fit_index], config, seed)
    labels[fit_index] = fit_labels
    rest = np.setdiff1d(valid, fit_index, assume_unique=True)
    if rest.size:
        from sklearn.neighbors import NearestNeighbors

        nn = NearestNeighbors(n_neighbors=1).fit(features[fit_index])
        nearest = nn.kneighbors(features[rest], return_distance=False)[:, 0]
        labels[rest] = fit_labels[nearest]
    return relabel_by_size(labels, config.min_cluster_size)


def relabel_by_size(labels: np.ndarray, min_size: int) -> np.ndarray:
    """Labels renumbered ``0..K-1`` by decreasing cluster size; clusters under ``min_size`` become -1."""
    out = np.full(labels.shape, -1, dtype="int64")
    ids, counts = np.unique(labels[labels >= 0], return_counts=True)
    order = np.argsort(-counts, kind="stable")
    new = 0
    for i in order:
        if counts[i] < min_size:
            continue
        out[labels == ids[i]] = new
        new += 1
    return out
