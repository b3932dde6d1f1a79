"""GMM sorting of locations and its scores, against perfect and merged labels."""

import numpy as np
import pytest

from si_amortized.evaluation import gmm_labels, score_labels


def test_score_labels_perfect_and_merged(mearec_small):
    recording, gt = mearec_small
    spikes = gt.to_spike_vector()
    peaks = np.zeros(spikes.size, dtype=[("sample_index", "i8"), ("segment_index", "i8")])
    peaks["sample_index"], peaks["segment_index"] = spikes["sample_index"], spikes["segment_index"]
    perfect = score_labels(gt, peaks, spikes["unit_index"].astype("int64"))
    assert perfect["accuracy"] == pytest.approx(1.0) and perfect["num_well_detected"] == gt.get_num_units()
    merged = score_labels(gt, peaks, (spikes["unit_index"] // 2).astype("int64"))
    assert merged["accuracy"] < 0.9 and merged["num_units"] == (gt.get_num_units() + 1) // 2


def test_gmm_labels_separate_clear_clusters_and_skip_nan():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(30, 1, (100, 2)), [[np.nan, 0.0]]])
    labels = gmm_labels(x, 2, seed=0)
    assert labels[-1] == -1
    assert len(set(labels[:100])) == 1 and len(set(labels[100:200])) == 1 and labels[0] != labels[150]
