"""The shared linear probe and its scores, against the explicit scikit-learn pipeline written out here."""

import warnings

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
from sklearn.metrics import balanced_accuracy_score, f1_score
from sklearn.model_selection import GroupKFold, StratifiedKFold
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from si_amortized.scoring import (
    bootstrap_difference,
    cross_validated_scores,
    linear_probe,
    probe_scores,
    score_predictions,
)


def _blobs(n_per=(30, 30, 12), dim=6, sep=1.5, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(len(n_per), dim)) * sep
    X = np.concatenate([c + rng.normal(size=(n, dim)) * (1 + 5 * (rng.random(dim) > 0.5)) for c, n in zip(centres, n_per)])
    y = np.repeat(np.arange(len(n_per)), n_per)
    return X, y


def _split(X, y, seed=1):
    test = np.random.default_rng(seed).random(len(y)) < 0.3
    return X[~test], y[~test], X[test], y[test]


def test_probe_scores_match_the_explicit_pipeline_fixed_penalty_balanced():
    Xtr, ytr, Xte, yte = _split(*_blobs())
    reference = make_pipeline(
        StandardScaler(), LogisticRegression(C=0.02, class_weight="balanced", max_iter=1000, tol=1e-5, random_state=3)
    ).fit(Xtr, ytr)
    pred = reference.predict(Xte)
    got = probe_scores(Xtr, ytr, Xte, yte, C=0.02, class_weight="balanced", max_iter=1000, tol=1e-5, seed=3,
                       metrics=("accuracy", "balanced_accuracy", "macro_f1"))
    assert got == dict(accuracy=float(np.mean(pred == yte)), balanced_accuracy=balanced_accuracy_score(yte, pred),
                       macro_f1=f1_score(yte, pred, average="macro"))


def test_probe_scores_match_the_explicit_pipeline_penalty_by_inner_cv():
    Xtr, ytr, Xte, yte = _split(*_blobs(seed=4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reference = make_pipeline(StandardScaler(), LogisticRegressionCV(Cs=5, cv=4, max_iter=500, random_state=0))
        expected = float(reference.fit(Xtr, ytr).score(Xte, yte))
    got = probe_scores(Xtr, ytr, Xte, yte, C=None, Cs=5, inner_cv=4, max_iter=500, ignore_warnings=True)
    assert got == {"accuracy": expected}


def test_linear_probe_without_standardisation_and_an_estimator_of_ones_own():
    X, y = _blobs(seed=5)
    assert [type(step) for _, step in linear_probe(standardize=False).steps] == [LogisticRegression]
    Xtr, ytr, Xte, yte = _split(X, y)
    unscaled = LogisticRegression(max_iter=2000).fit(Xtr, ytr).predict(Xte)
    assert probe_scores(Xtr, ytr, Xte, yte, standardize=False, max_iter=2000) == {"accuracy": np.mean(unscaled == yte)}
    knn = KNeighborsClassifier(3)
    expected = np.mean(KNeighborsClassifier(3).fit(Xtr, ytr).predict(Xte) == yte)
    assert probe_scores(Xtr, ytr, Xte, yte, estimator=knn) == {"accuracy": expected}
    assert not hasattr(knn, "classes_")  # the estimator given is cloned, not fitted
    with pytest.raises(TypeError):
        probe_scores(Xtr, ytr, Xte, yte, estimator=knn, C=1.0)


def test_cross_validated_scores_match_a_naive_fold_loop():
    X, y = _blobs(seed=6)
    folds = StratifiedKFold(5, shuffle=True, random_state=2).split(X, y)
    ba, f1 = [], []
    for train, test in folds:
        model = make_pipeline(StandardScaler(), LogisticRegression(class_weight="balanced", random_state=2))
        pred = model.fit(X[train], y[train]).predict(X[test])
        ba.append(balanced_accuracy_score(y[test], pred))
        f1.append(f1_score(y[test], pred, average="macro"))
    got = cross_validated_scores(X, y, class_weight="balanced", seed=2, metrics=("balanced_accuracy", "macro_f1"))
    assert got["folds"] == 5
    assert got["balanced_accuracy"] == pytest.approx(np.mean(ba), abs=1e-15)
    assert got["macro_f1"] == pytest.approx(np.mean(f1), abs=1e-15)
    assert got["balanced_accuracy_std"] == pytest.approx(np.std(ba), abs=1e-15)
    assert list(got) == ["balanced_accuracy", "macro_f1", "balanced_accuracy_std", "macro_f1_std", "folds"]


def test_cross_validated_scores_folds_repeats_and_groups():
    X, y = _blobs(n_per=(20, 20, 3), seed=7)
    assert cross_validated_scores(X, y)["folds"] == 3  # no more folds than the smallest class has samples
    assert cross_validated_scores(X, y, repeats=2)["folds"] == 6
    groups = np.arange(len(y)) % 4
    accuracies = []
    for train, test in GroupKFold(n_splits=4).split(X, y, groups):
        pred = make_pipeline(StandardScaler(), LogisticRegression()).fit(X[train], y[train]).predict(X[test])
        accuracies.append(np.mean(pred == y[test]))
    got = cross_validated_scores(X, y, groups=groups, folds=10, metrics=("accuracy",))
    assert got["folds"] == 4 and got["accuracy"] == pytest.approx(np.mean(accuracies), abs=1e-15)


def test_score_predictions_by_hand():
    y = np.array([0, 0, 0, 1])
    pred = np.array([0, 0, 1, 1])
    s = score_predictions(y, pred, ("accuracy", "balanced_accuracy", "macro_f1"))
    assert s["accuracy"] == 0.75
    assert s["balanced_accuracy"] == pytest.approx((2 / 3 + 1) / 2)
    assert s["macro_f1"] == pytest.approx((0.8 + 2 / 3) / 2)
    with pytest.raises(ValueError):
        score_predictions(y, pred, ("auc",))


def test_bootstrap_difference_finds_a_known_effect_and_no_effect():
    rng = np.random.default_rng(0)
    n = 2000
    correct_a = (rng.random(n) < 0.8).astype(float)  # a classifier right with probability 0.8 ...
    correct_b = (rng.random(n) < 0.7).astype(float)  # ... and one right with probability 0.7, on the same units
    mean, low, high = bootstrap_difference(correct_a, correct_b, n_boot=2000, seed=0)
    assert mean == pytest.approx(correct_a.mean() - correct_b.mean(), abs=1e-15)
    assert low < 0.1 < high and low > 0
    # the interval's half-width is about 1.96 standard errors of the mean paired difference
    se = np.std(correct_a - correct_b) / np.sqrt(n)
    assert (high - low) / 2 == pytest.approx(1.96 * se, rel=0.1)
    # no effect: the interval covers 0
    correct_c = (rng.random(n) < 0.7).astype(float)
    mean0, low0, high0 = bootstrap_difference(correct_c, correct_b, seed=0)
    assert low0 < 0 < high0 and abs(mean0) < 0.03
    # deterministic given the seed; another seed moves the ends a little; a lower level narrows the interval
    assert bootstrap_difference(correct_a, correct_b, seed=0) == (mean, low, high)
    other = bootstrap_difference(correct_a, correct_b, seed=1)
    assert other[0] == mean and other[1:] != (low, high) and other[1] == pytest.approx(low, abs=0.01)
    _, low50, high50 = bootstrap_difference(correct_a, correct_b, seed=0, level=0.5)
    assert low < low50 < mean < high50 < high


def test_stratified_bootstrap_is_a_balanced_accuracy_interval_that_covers_the_true_difference():
    from sklearn.metrics import balanced_accuracy_score

    sizes, acc_a, acc_b = (300, 40), (0.9, 0.6), (0.8, 0.4)
    true_difference = np.mean(np.subtract(acc_a, acc_b))  # 0.15, while the unbalanced mean is ~0.12
    labels = np.repeat([0, 1], sizes)
    covered = 0
    for trial in range(200):
        rng = np.random.default_rng(trial)
        correct_a = (rng.random(labels.size) < np.take(acc_a, labels)).astype(float)
        correct_b = (rng.random(labels.size) < np.take(acc_b, labels)).astype(float)
        mean, low, high = bootstrap_difference(correct_a, correct_b, n_boot=500, seed=trial, strata=labels)
        if trial == 0:  # the statistic is the difference of balanced accuracies
            predicted = lambda c: np.where(c == 1, labels, 1 - labels)  # noqa: E731
            expected = balanced_accuracy_score(labels, predicted(correct_a)) - balanced_accuracy_score(
                labels, predicted(correct_b))
            assert mean == pytest.approx(expected, abs=1e-12)
            _, low_a, high_a = bootstrap_difference(correct_a, np.zeros_like(correct_a), strata=labels)
            assert 0.0 <= low_a <= high_a <= 1.0
        covered += low <= true_difference <= high
    assert 0.9 <= covered / 200 <= 0.99  # a 95 % interval
    with pytest.raises(ValueError, match="strata"):
        bootstrap_difference(correct_a, correct_b, strata=labels[:-1])


def test_bootstrap_difference_is_paired():
    rng = np.random.default_rng(1)
    n = 500
    correct_b = (rng.random(n) < 0.7).astype(float)
    correct_a = correct_b.copy()
    correct_a[rng.choice(np.flatnonzero(correct_b == 0), 25, replace=False)] = 1.0  # a fixes 25 of b's errors
    mean, low, high = bootstrap_difference(correct_a, correct_b, seed=0)
    assert mean == pytest.approx(25 / n)
    # unpaired, the standard error would be ~0.028 and the interval would cover 0; paired it does not
    assert 0 < low < mean < high and high - low < 0.05
    with pytest.raises(ValueError):
        bootstrap_difference(correct_a, correct_b[:-1])
    with pytest.raises(ValueError):
        bootstrap_difference([np.nan, 1.0], [0.0, 1.0])
    with pytest.raises(ValueError):
        bootstrap_difference(correct_a, correct_b, level=95)
