"""Downstream analyses of well embeddings: classification, treatment distances, metric regression."""

import numpy as np
import pandas as pd
import pytest

from si_amortized.rollae.downstream import (
    classify_wells,
    leave_one_well_out_classification,
    neural_metric_regression,
    treatment_centroid_distances,
    treatment_linkage,
)

from .helpers import blobs


def test_classification_helpers():
    X, y = blobs()
    res = classify_wells(X, y, Cs=3, cv=3)
    assert res["accuracy"] > 0.95 and res["confusion"].shape == (2, 2)
    wells = np.concatenate([np.repeat(np.arange(4), 10), np.repeat(np.arange(4, 8), 10)])  # 10 recordings (days) per well
    out = leave_one_well_out_classification(X, y, wells, Cs=3, cv=3)
    assert len(out) == 80 and out["correct"].mean() > 0.95
    noise = leave_one_well_out_classification(np.random.default_rng(1).normal(size=(80, 5)), y, wells, Cs=3, cv=3)
    assert noise["correct"].mean() < 0.8


def test_centroid_distances_match_hand_computation():
    X = np.array([[0.0, 0.0], [0.0, 2.0], [4.0, 0.0], [4.0, 2.0], [10.0, 1.0]])
    t = np.array(["x", "x", "y", "y", "z"])
    d = treatment_centroid_distances(X, t, standardize=False)
    assert d.loc["x", "y"] == pytest.approx(4.0)
    assert d.loc["x", "z"] == pytest.approx(10.0)
    assert np.allclose(d.to_numpy(), d.to_numpy().T) and np.all(np.diag(d) == 0)
    link = treatment_linkage(d)
    assert link.shape == (2, 4)
    assert link[0, 2] == pytest.approx(4.0)  # x and y merge first


def test_metric_regression_r_scores():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(120, 4))
    metrics = pd.DataFrame(dict(linear=X @ [1.0, -2.0, 0.5, 0.0] + 0.05 * rng.normal(size=120), noise=rng.normal(size=120)))
    metrics.loc[:5, "linear"] = np.nan
    r = neural_metric_regression(X, metrics)
    assert r["linear"] > 0.95 and abs(r["noise"]) < 0.4
