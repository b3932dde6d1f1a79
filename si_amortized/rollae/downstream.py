"""Downstream uses of well embeddings from the paper: classification, treatment distances, metric regression."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..scoring import linear_probe

__all__ = [
    "classify_wells",
    "leave_one_well_out_classification",
    "treatment_centroid_distances",
    "treatment_linkage",
    "neural_metric_regression",
]


def classify_wells(
    features, labels, test_size: float = 0.3, seed: int = 0, cv: int = 4, Cs: int = 8
) -> dict:
    """Train/test split + standardised L2 logistic regression with the penalty chosen by ``cv``-fold CV.

    Returns
    -------
    dict
        ``accuracy`` (test), ``confusion`` (np.ndarray), ``classes``, ``model``.
    """
    from sklearn.metrics import confusion_matrix
    from sklearn.model_selection import train_test_split

    X = np.asarray(features, dtype=float)
    y = np.asarray(labels)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=test_size, random_state=seed, stratify=y)
    clf = linear_probe(C=None, Cs=Cs, inner_cv=cv, max_iter=2000, seed=seed).fit(Xtr, ytr)
    pred = clf.predict(Xte)
    classes = np.unique(y)
    return dict(accuracy=float(np.mean(pred == yte)), confusion=confusion_matrix(yte, pred, labels=classes), classes=classes, model=clf)


def leave_one_well_out_classification(features, labels, wells, cv: int = 4, Cs: int = 8, seed: int = 0) -> pd.DataFrame:
    """Leave-one-well-out classification (the paper's siKD vs NTS protocol).

    For every well, a standardised L2 logistic regression (penalty by ``cv``-fold CV) is trained on the
    recordings of all other wells and predicts the recordings (e.g. days) of the held-out well.

    Parameters
    ----------
    features : array-like, shape (num_recordings, num_features)
    labels : array-like, shape (num_recordings,)
    wells : array-like, shape (num_recordings,)
        Well identity of each row (a well may have several recordings).

    Returns
    -------
    pandas.DataFrame
        One row per input row: ``well``, ``label``, ``predicted``, ``correct``.
    """
    X = np.asarray(features, dtype=float)
    y = np.asarray(labels)
    g = np.asarray(wells)
    if not (len(X) == len(y) == len(g)):
        raise ValueError("features, labels and wells must have the same length")
    pred = np.empty(len(y), dtype=y.dtype)
    for w in pd.unique(g):
        test = g == w
        train = ~test
        if np.unique(y[train]).size < 2:
            raise ValueError(f"leaving out well {w!r} leaves a single class to train on")
        n_min = int(pd.Series(y[train]).value_counts().min())
        clf = linear_probe(C=None, Cs=Cs, inner_cv=max(2, min(cv, n_min)), max_iter=2000, seed=seed)
        clf.fit(X[train], y[train])
        pred[test] = clf.predict(X[test])
    return pd.DataFrame(dict(well=g, label=y, predicted=pred, correct=pred == y))


def treatment_centroid_distances(features, treatments, standardize: bool = True) -> pd.DataFrame:
    """Euclidean distances between treatment centroids of (standardised) embeddings.

    Returns
    -------
    pandas.DataFrame, shape (num_treatments, num_treatments)
    """
    X = np.asarray(features, dtype=float)
    t = np.asarray(treatments)
    if standardize:
        sd = X.std(axis=0)
        X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    names = list(pd.unique(t))
    cent = np.stack([X[t == n].mean(axis=0) for n in names])
    d = np.linalg.norm(cent[:, None] - cent[None], axis=-1)
    return pd.DataFrame(d, index=names, columns=names)


def treatment_linkage(distances: pd.DataFrame, method: str = "average") -> np.ndarray:
    """Hierarchical clustering (scipy linkage matrix) of a treatment distance matrix, for a dendrogram."""
    from scipy.cluster.hierarchy import linkage
    from scipy.spatial.distance import squareform

    return linkage(squareform(np.asarray(distances), checks=False), method=method)


def neural_metric_regression(features, metrics: pd.DataFrame, cv: int = 5, seed: int = 0) -> pd.Series:
    """How well embeddings predict each neural metric: Pearson r of cross-validated ridge predictions.

    Rows with a NaN metric are left out for that metric.

    Returns
    -------
    pandas.Series
        r-score per metric (NaN when the metric is constant or has too few values).
    """
    from sklearn.linear_model import RidgeCV
    from sklearn.model_selection import KFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = np.asarray(features, dtype=float)
    metrics = pd.DataFrame(metrics)
    if len(metrics) != len(X):
        raise ValueError("features and metrics must have the same number of rows")
    out = {}
    for name in metrics.columns:
        y = metrics[name].to_numpy(dtype=float)
        ok = np.isfinite(y)
        if ok.sum() < max(cv, 3) or np.std(y[ok]) == 0:
            out[name] = np.nan
            continue
        model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-3, 3, 13)))
        pred = cross_val_predict(model, X[ok], y[ok], cv=KFold(cv, shuffle=True, random_state=seed))
        out[name] = float(np.corrcoef(pred, y[ok])[0, 1]) if np.std(pred) > 0 else np.nan
    return pd.Series(out, name="r")
