"""Density clustering of the location sorter, on synthetic data."""

import numpy as np
import pytest

from si_amortized.sorters import ClusteringConfig, cluster_features
from si_amortized.sorters.clustering import relabel_by_size


def _blobs(seed=0, n=(300, 200, 100), centers=((0, 0), (40, 0), (0, 40)), sd=2.0):
    rng = np.random.default_rng(seed)
    x = np.concatenate([rng.normal(c, sd, size=(k, 2)) for c, k in zip(centers, n)])
    y = np.repeat(np.arange(len(n)), n)
    return x, y


@pytest.mark.parametrize("clusterer", ["mean_shift", "hdbscan"])
def test_density_clustering_recovers_blobs_without_their_number(clusterer):
    x, y = _blobs()
    labels = cluster_features(x, ClusteringConfig(clusterer=clusterer, bandwidth=6.0, min_cluster_size=20))
    # labels are ordered by size, so they equal the blob index here
    assigned = labels >= 0
    assert assigned.mean() > 0.9
    assert np.mean(labels[assigned] == y[assigned]) > 0.99
    assert labels.max() == 2


def test_subsampled_fit_assigns_the_rest_by_nearest_neighbour():
    x, y = _blobs(seed=1)
    full = cluster_features(x, ClusteringConfig(bandwidth=6.0))
    sub = cluster_features(x, ClusteringConfig(bandwidth=6.0, max_spikes_fit=150), seed=3)
    assert np.mean(full == sub) > 0.99


def test_non_finite_rows_and_small_clusters_are_unassigned():
    x, _ = _blobs()
    x = np.concatenate([x, [[np.nan, 0.0], [500.0, 500.0], [501.0, 500.0]]])
    labels = cluster_features(x, ClusteringConfig(bandwidth=6.0, min_bin_freq=1, min_cluster_size=20))
    assert labels[-3] == -1  # NaN feature
    assert labels[-2] == -1 and labels[-1] == -1  # a 2-spike cluster is below min_cluster_size


def test_relabel_by_size_orders_and_drops():
    labels = np.array([5, 5, 5, 2, 2, 9, -1])
    assert relabel_by_size(labels, 2).tolist() == [0, 0, 0, 1, 1, -1, -1]


def test_clustering_config_rejects_bad_values():
    with pytest.raises(ValueError, match="clusterer"):
        ClusteringConfig(clusterer="kmeans")
    with pytest.raises(ValueError, match="bandwidth"):
        ClusteringConfig(bandwidth=0)
