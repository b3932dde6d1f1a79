"""Linear probes on frozen features, scored on a split or by k-fold cross-validation: shared by the wings.

One standardised L2 logistic regression (scikit-learn) whose options cover every use in the package and
its benchmarks: a fixed penalty ``C`` or one chosen by inner cross-validation (``C=None``), class weights,
``max_iter``, ``tol``, the seed, with or without standardisation. Scores: accuracy, balanced accuracy,
macro F1.

- :func:`linear_probe`: the unfitted estimator.
- :func:`probe_scores`: fit on one set, score on another.
- :func:`cross_validated_scores`: stratified (repeated) or grouped k-fold cross-validation.
- :func:`score_predictions`: the metrics of a prediction.
- :func:`bootstrap_difference`: paired bootstrap confidence interval of the mean difference of two methods'
  per-unit (or per-recording) scores.
"""

from __future__ import annotations

import warnings

import numpy as np

__all__ = [
    "METRICS",
    "linear_probe",
    "probe_scores",
    "cross_validated_scores",
    "score_predictions",
    "bootstrap_difference",
]

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def linear_probe(
    *,
    C: float | None = 1.0,
    Cs: int = 10,
    inner_cv: int = 5,
    class_weight: str | dict | None = None,
    max_iter: int = 100,
    tol: float = 1e-4,
    standardize: bool = True,
    seed: int = 0,
):
    """Standardisation + L2 logistic regression (lbfgs), unfitted.

    Parameters
    ----------
    C : float | None, default: 1.0
        Inverse penalty strength. None: chosen among ``Cs`` values by ``inner_cv``-fold cross-validation on
        the training data (``LogisticRegressionCV``).
    Cs : int, default: 10
        With ``C=None``: number of penalties tried (log grid from 1e-4 to 1e4).
    inner_cv : int, default: 5
        With ``C=None``: folds of the penalty's cross-validation (stratified, not shuffled).
    class_weight : "balanced" | dict | None, default: None
        "balanced": weights inversely proportional to the class frequencies.
    max_iter : int, default: 100
    tol : float, default: 1e-4
    standardize : bool, default: True
        Zero mean, unit variance features (fitted on the training data) before the regression.
    seed : int, default: 0
        ``random_state`` of the regression.

    Returns
    -------
    sklearn.pipeline.Pipeline
        ``[StandardScaler,] LogisticRegression | LogisticRegressionCV``.
    """
    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    if C is None:
        regression = LogisticRegressionCV(
            Cs=Cs, cv=inner_cv, class_weight=class_weight, max_iter=max_iter, tol=tol, random_state=seed
        )
    else:
        regression = LogisticRegression(C=C, class_weight=class_weight, max_iter=max_iter, tol=tol, random_state=seed)
    return make_pipeline(StandardScaler(), regression) if standardize else make_pipeline(regression)


def score_predictions(y_true, y_pred, metrics=("balanced_accuracy", "macro_f1")) -> dict:
    """Scores of a prediction.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (num_samples,)
    metrics : sequence of {"accuracy", "balanced_accuracy", "macro_f1"}, default: ("balanced_accuracy", "macro_f1")

    Returns
    -------
    dict
        ``{metric: float}``.
    """
    from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

    functions = dict(
        accuracy=accuracy_score,
        balanced_accuracy=balanced_accuracy_score,
        macro_f1=lambda a, b: f1_score(a, b, average="macro"),
    )
    unknown = set(metrics) - set(functions)
    if unknown:
        raise ValueError(f"unknown metrics {sorted(unknown)}; choose from {METRICS}")
    return {m: float(functions[m](y_true, y_pred)) for m in metrics}


def _fit(estimator, X, y, ignore_warnings: bool):
    with warnings.catch_warnings():
        if ignore_warnings:  # e.g. convergence and scikit-learn deprecation warnings in long benchmark loops
            warnings.simplefilter("ignore")
        return estimator.fit(X, y)


def _make_estimator(estimator, probe_options: dict):
    if estimator is None:
        return linear_probe(**probe_options)
    if probe_options:
        raise TypeError(f"probe options {sorted(probe_options)} go with estimator=None only")
    from sklearn.base import clone

    return clone(estimator)


def probe_scores(
    train_features,
    train_labels,
    test_features,
    test_labels,
    *,
    estimator=None,
    metrics=("accuracy",),
    ignore_warnings: bool = False,
    **probe_options,
) -> dict:
    """Fit a probe on one set and score it on another.

    Parameters
    ----------
    train_features : array-like, shape (num_train, num_features)
    train_labels : array-like, shape (num_train,)
    test_features : array-like, shape (num_test, num_features)
    test_labels : array-like, shape (num_test,)
    estimator : scikit-learn-style estimator | None, default: None
        Cloned and fitted; None: ``linear_probe(**probe_options)``.
    metrics : sequence of str, default: ("accuracy",)
        See :func:`score_predictions`.
    ignore_warnings : bool, default: False
        Silence warnings while fitting.
    **probe_options
        Keywords of :func:`linear_probe` (only without ``estimator``).

    Returns
    -------
    dict
        ``{metric: float}``.
    """
    model = _make_estimator(estimator, probe_options)
    _fit(model, train_features, np.asarray(train_labels), ignore_warnings)
    return score_predictions(np.asarray(test_labels), model.predict(test_features), metrics)


def cross_validated_scores(
    features,
    labels,
    *,
    estimator=None,
    folds: int = 5,
    repeats: int = 1,
    groups=None,
    seed: int = 0,
    metrics=("balanced_accuracy",),
    ignore_warnings: bool = False,
    **probe_options,
) -> dict:
    """k-fold cross-validated scores of a probe.

    Parameters
    ----------
    features : array-like, shape (num_samples, num_features)
    labels : array-like, shape (num_samples,)
    estimator : scikit-learn-style estimator | None, default: None
        Cloned for each fold; None: ``linear_probe(seed=seed, **probe_options)``.
    folds : int, default: 5
        Stratified, shuffled folds (at most the size of the smallest class, at least 2); with ``groups``,
        ``GroupKFold`` with at most one fold per group.
    repeats : int, default: 1
        Stratified folds drawn this many times with different shuffles (``RepeatedStratifiedKFold``; one
        repeat gives the same folds as ``StratifiedKFold(folds, shuffle=True, random_state=seed)``).
    groups : array-like | None, shape (num_samples,), default: None
        E.g. the recording of each sample: folds then hold out whole groups.
    seed : int, default: 0
        Shuffles of the folds, and the probe's ``random_state`` when ``estimator`` is None.
    metrics : sequence of str, default: ("balanced_accuracy",)
        See :func:`score_predictions`.
    ignore_warnings : bool, default: False
        Silence warnings while fitting.
    **probe_options
        Keywords of :func:`linear_probe` (only without ``estimator``).

    Returns
    -------
    dict
        ``{metric: mean over folds}``, ``{metric}_std`` (population standard deviation over folds), ``folds``
        (number of fits).
    """
    from sklearn.model_selection import GroupKFold, RepeatedStratifiedKFold

    X = np.asarray(features)
    y = np.asarray(labels)
    if groups is not None:
        splits = GroupKFold(n_splits=min(folds, len(np.unique(groups)))).split(X, y, groups)
    else:
        min_count = np.bincount(np.unique(y, return_inverse=True)[1]).min()
        k = max(2, min(folds, int(min_count)))
        splits = RepeatedStratifiedKFold(n_splits=k, n_repeats=repeats, random_state=seed).split(X, y)
    if estimator is None:
        probe_options = dict(dict(seed=seed), **probe_options)
    per_fold = [
        probe_scores(X[train], y[train], X[test], y[test], estimator=estimator, metrics=metrics,
                     ignore_warnings=ignore_warnings, **probe_options)
        for train, test in splits
    ]
    values = {m: np.array([s[m] for s in per_fold]) for m in metrics}
    return dict(**{m: float(v.mean()) for m, v in values.items()},
                **{f"{m}_std": float(v.std()) for m, v in values.items()}, folds=len(per_fold))


def bootstrap_difference(scores_a, scores_b, n_boot: int = 2000, seed: int = 0,
                         level: float = 0.95, strata=None) -> tuple[float, float, float]:
    """Mean difference of paired scores and its percentile bootstrap confidence interval.

    The pairs (unit or recording ``i`` scored by method a and by method b) are resampled together, so what
    the two methods share (easy and hard units) cancels out of the interval.

    Parameters
    ----------
    scores_a, scores_b : array-like, shape (num_samples,)
        Paired scores, e.g. per-unit correctness (0 / 1) of two classifiers' held-out predictions; weighting
        unit ``i`` by ``num_samples / (num_classes * count of its class)`` makes the mean the balanced accuracy.
    n_boot : int, default: 2000
        Bootstrap resamples (pairs drawn with replacement, ``num_samples`` per resample).
    seed : int, default: 0
        Seeds ``numpy.random.default_rng``: the same inputs and seed give the same interval.
    level : float, default: 0.95
        Coverage of the interval, in (0, 1).
    strata : array-like | None, shape (num_samples,), default: None
        Labels (e.g. each unit's class): pairs are resampled within each stratum and the statistic is the
        mean over strata of the within-stratum mean difference. With 0 / 1 correctness as scores, that is
        the difference of balanced accuracies, and every resample keeps the class sizes (its figures stay in
        [-1, 1]).

    Returns
    -------
    (mean_difference, low, high) : tuple of float
        The statistic (``mean(scores_a - scores_b)`` without strata) and the ``(1 - level) / 2`` and
        ``(1 + level) / 2`` quantiles of its resampled values.
    """
    a = np.asarray(scores_a, dtype=np.float64)
    b = np.asarray(scores_b, dtype=np.float64)
    if a.ndim != 1 or a.shape != b.shape or a.size == 0:
        raise ValueError(f"scores_a and scores_b must be paired 1-D arrays of the same non-zero length, "
                         f"not shapes {a.shape} and {b.shape}")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise ValueError("scores must be finite (drop the pairs with a missing score first)")
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be in (0, 1), not {level}")
    if int(n_boot) < 1:
        raise ValueError(f"n_boot must be >= 1, not {n_boot}")
    difference = a - b
    rng = np.random.default_rng(seed)
    if strata is None:
        groups = [difference]
    else:
        strata = np.asarray(strata)
        if strata.shape != difference.shape:
            raise ValueError(f"strata must have the scores' shape {difference.shape}, not {strata.shape}")
        groups = [difference[strata == label] for label in np.unique(strata)]
    means = np.mean([_resampled_means(g, int(n_boot), rng) for g in groups], axis=0)
    low, high = np.quantile(means, [(1.0 - level) / 2.0, (1.0 + level) / 2.0])
    return float(np.mean([g.mean() for g in groups])), float(low), float(high)


def _resampled_means(values: np.ndarray, n_boot: int, rng) -> np.ndarray:
    """Means of ``n_boot`` resamples (with replacement, same size) of ``values``, shape (n_boot,)."""
    n = values.size
    block = max(1, 1_000_000 // n)  # resamples drawn at once: bounded memory for many pairs
    return np.concatenate([
        values[rng.integers(0, n, size=(min(block, n_boot - start), n))].mean(axis=1)
        for start in range(0, n_boot, block)
    ])
