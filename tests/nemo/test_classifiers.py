"""Classifier probes (linear, MLP), fine-tuning, depth ensembling and clustering."""

import numpy as np
import pytest
import torch

from si_amortized.nemo.classifiers import (
    MLPProbe,
    cluster_embeddings,
    cross_validate_probe,
    ensemble_by_depth,
    fine_tune,
    make_linear_probe,
    score_predictions,
)

from .helpers import blobs


def test_linear_and_mlp_probes_separate_blobs_and_not_noise():
    X, y = blobs()
    lin = cross_validate_probe(X, y, "linear")
    mlp = cross_validate_probe(X, y, "mlp", epochs=60)
    assert lin["balanced_accuracy"] > 0.95 and lin["macro_f1"] > 0.95 and lin["folds"] == 5
    assert mlp["balanced_accuracy"] > 0.95
    # shuffled labels: chance level (3 classes)
    y_shuffled = np.random.default_rng(1).permutation(y)
    assert cross_validate_probe(X, y_shuffled, "linear")["balanced_accuracy"] < 0.6
    # group folds hold out whole groups
    groups = np.tile(np.arange(3), 30)
    assert cross_validate_probe(X, y, "linear", groups=groups)["folds"] == 3


def test_balanced_probe_on_imbalanced_classes():
    X, y = blobs(n_per=40, k=2, sep=1.0, seed=2)
    keep = np.r_[np.arange(40), np.arange(40, 48)]  # 40 vs 8
    probe = make_linear_probe(C=1.0).fit(X[keep], y[keep])
    scores = score_predictions(y, probe.predict(X))
    assert scores["balanced_accuracy"] > 0.8
    assert MLPProbe(epochs=50).fit(X, y).decision_function(X).shape == (80, 2)


def test_score_predictions_reference():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 1])
    s = score_predictions(y, pred)
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    f1_0 = 2 * 1.0 * (2 / 3) / (1.0 + 2 / 3)
    f1_1 = 2 * 0.5 * 1.0 / 1.5
    assert s["macro_f1"] == pytest.approx((f1_0 + f1_1) / 2)


def test_ensemble_by_depth_matches_naive():
    rng = np.random.default_rng(3)
    depth = rng.uniform(0, 400, 40)
    logits = rng.normal(size=(40, 4))
    got = ensemble_by_depth(logits, depth, radius_um=60, max_units=5)
    for i in range(40):
        d = np.abs(depth - depth[i])
        near = [j for j in np.argsort(d, kind="stable")[:5] if d[j] <= 60]
        np.testing.assert_allclose(got[i], logits[near].mean(0))
    far = ensemble_by_depth(logits, depth, query_positions=np.array([-500.0]))
    assert np.isnan(far).all()
    # 2D positions work too
    xy = np.c_[np.zeros(40), depth]
    np.testing.assert_allclose(ensemble_by_depth(logits, xy), got)


def test_fine_tune_learns_separable_toy_task():
    rng = np.random.default_rng(4)
    n = 64
    y = np.repeat([0, 1], n // 2)
    lags = np.linspace(0, 1, 101)
    acg = np.where(y[:, None, None] == 0, 0.2 + 0 * lags, 0.2 + np.exp(-lags / 0.05))
    acg = (acg * np.ones((1, 10, 1)) + 0.02 * rng.random((n, 10, 101))).astype(np.float32)
    wf = (rng.normal(size=(n, 1, 90)) * 0.05).astype(np.float32)
    predict, clf = fine_tune(None, acg, wf, y, epochs=40, learning_rate=1e-3, batch_size=32, seed=0)
    assert (predict(acg, wf) == y).mean() > 0.9
    assert list(clf.classes_) == [0, 1]


def test_cluster_embeddings_knn_and_optional_umap():
    X, y = blobs(n_per=25, k=3, sep=6.0, seed=5)
    labels = cluster_embeddings(X, graph="knn", n_neighbors=10)
    from sklearn.metrics import adjusted_rand_score

    assert adjusted_rand_score(y, labels) > 0.9
    try:
        import umap  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError):
            cluster_embeddings(X, graph="umap")
        pytest.skip("umap-learn not installed")
    assert adjusted_rand_score(y, cluster_embeddings(X, graph="umap")) > 0.9


def test_old_learning_rate_keywords_warn_and_still_work():
    from sklearn.base import clone

    with pytest.warns(DeprecationWarning, match="lr is now learning_rate"):
        probe = MLPProbe(lr=5e-3)
    assert probe.learning_rate == 5e-3 and "lr" not in probe.get_params()
    with pytest.warns(DeprecationWarning, match="lr is now learning_rate"):
        assert probe.lr == 5e-3
    with pytest.warns(DeprecationWarning, match="lr is now learning_rate"):
        probe.set_params(lr=1e-2)
    assert probe.learning_rate == 1e-2 and clone(probe).learning_rate == 1e-2
    # fine_tune: lr / head_lr give what learning_rate / head_learning_rate give
    rng = np.random.default_rng(0)
    acg = rng.random((16, 10, 101)).astype(np.float32)
    wf = rng.normal(size=(16, 1, 90)).astype(np.float32)
    y = np.repeat([0, 1], 8)
    settings = dict(epochs=2, batch_size=8, augment=False, seed=0)
    _, expected = fine_tune(None, acg, wf, y, learning_rate=1e-3, head_learning_rate=1e-2, **settings)
    with pytest.warns(DeprecationWarning) as caught:
        _, got = fine_tune(None, acg, wf, y, lr=1e-3, head_lr=1e-2, **settings)
    messages = [str(w.message) for w in caught]
    assert any("fine_tune: lr is now learning_rate" in m for m in messages)
    assert any("fine_tune: head_lr is now head_learning_rate" in m for m in messages)
    for name, value in expected.state_dict().items():
        torch.testing.assert_close(got.state_dict()[name], value, rtol=0, atol=0)
