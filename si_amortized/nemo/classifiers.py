"""Downstream use of NEMO representations: linear and MLP classifier probes with cross-validated balanced
accuracy and macro F1, end-to-end fine-tuning (also the supervised baseline from random weights), the paper's
multi-unit ensembling by depth, and graph clustering (UMAP + Louvain when ``umap-learn`` is installed).

"Probe" here is a classifier on frozen features, not an electrode probe; the linear probe and its scoring are
:mod:`si_amortized.scoring`'s.
"""

from __future__ import annotations

import copy
import warnings

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

from .._torch import resolve_device, seed_everything
from ..scoring import cross_validated_scores, linear_probe
from ..scoring import score_predictions as _score_predictions
from .augment import augment_acg, augment_waveform
from .config import AugmentConfig
from .model import NemoModel

__all__ = [
    "make_linear_probe",
    "MLPProbe",
    "cross_validate_probe",
    "score_predictions",
    "NemoClassifier",
    "fine_tune",
    "ensemble_by_depth",
    "cluster_embeddings",
]


def make_linear_probe(C: float = 0.02, max_iter: int = 1000, tol: float = 1e-5, seed: int = 0, standardize: bool = True):
    """Standardise + class-balanced L2 logistic regression (paper: C = 0.02, max_iter 1000, tol 1e-5).

    ``standardize=False`` leaves the scaling to the caller (e.g. fitted on every unit, labelled or not).
    """
    return linear_probe(C=C, class_weight="balanced", max_iter=max_iter, tol=tol, seed=seed, standardize=standardize)


def _class_weights(y: np.ndarray, num_classes: int) -> torch.Tensor:
    counts = np.bincount(y, minlength=num_classes).astype(np.float64)
    w = np.where(counts > 0, counts.sum() / (num_classes * np.maximum(counts, 1)), 0.0)
    return torch.as_tensor(w, dtype=torch.float32)


class _MLP(nn.Module):
    def __init__(self, in_dim, hidden, num_classes, dropout):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, num_classes))

    def forward(self, x):
        return self.net(x)


def _renamed_keyword(old_name: str, new_name: str, where: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{where}: {old_name} is now {new_name}; the name {old_name} goes in the next release",
        DeprecationWarning,
        stacklevel=stacklevel,
    )


class MLPProbe:
    """One-hidden-layer MLP on frozen features (paper: 256 units, dropout 0.2), class-balanced cross-entropy,
    standardised inputs; a scikit-learn-style estimator (``fit``, ``predict``, ``decision_function``).

    ``learning_rate`` was ``lr``: ``MLPProbe(lr=...)``, ``set_params(lr=...)`` and ``probe.lr`` still work until
    the next release, with a DeprecationWarning.
    """

    def __init__(self, hidden: int = 256, dropout: float = 0.2, learning_rate: float = 1e-3, epochs: int = 300,
                 weight_decay: float = 1e-4, seed: int = 0, device: str | None = None, *, lr: float | None = None):
        if lr is not None:
            _renamed_keyword("lr", "learning_rate", "MLPProbe")
            learning_rate = lr
        self.hidden, self.dropout, self.learning_rate, self.epochs = hidden, dropout, learning_rate, epochs
        self.weight_decay, self.seed, self.device = weight_decay, seed, device

    @property
    def lr(self) -> float:
        """Deprecated name of ``learning_rate``."""
        _renamed_keyword("lr", "learning_rate", "MLPProbe")
        return self.learning_rate

    @lr.setter
    def lr(self, value: float) -> None:
        _renamed_keyword("lr", "learning_rate", "MLPProbe")
        self.learning_rate = value

    def get_params(self, deep=True):
        return dict(hidden=self.hidden, dropout=self.dropout, learning_rate=self.learning_rate, epochs=self.epochs,
                    weight_decay=self.weight_decay, seed=self.seed, device=self.device)

    def set_params(self, **params):
        for k, v in params.items():
            setattr(self, k, v)
        return self

    def fit(self, X, y):
        X = np.asarray(X, dtype=np.float32)
        self.classes_, y_idx = np.unique(np.asarray(y), return_inverse=True)
        self.mean_, self.std_ = X.mean(0), X.std(0) + 1e-6
        dev = resolve_device(self.device)
        seed_everything(self.seed)
        self.net_ = _MLP(X.shape[1], self.hidden, len(self.classes_), self.dropout).to(dev)
        xt = torch.as_tensor((X - self.mean_) / self.std_, device=dev)
        yt = torch.as_tensor(y_idx, device=dev)
        weight = _class_weights(y_idx, len(self.classes_)).to(dev)
        opt = torch.optim.Adam(self.net_.parameters(), lr=self.learning_rate, weight_decay=self.weight_decay)
        self.net_.train()
        for _ in range(self.epochs):  # full batch: probe data sets are small
            loss = F.cross_entropy(self.net_(xt), yt, weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
        self.net_.eval().cpu()
        return self

    @torch.no_grad()
    def decision_function(self, X):
        x = torch.as_tensor((np.asarray(X, dtype=np.float32) - self.mean_) / self.std_)
        return self.net_(x).numpy()

    def predict(self, X):
        return self.classes_[self.decision_function(X).argmax(1)]


def score_predictions(y_true, y_pred) -> dict:
    """Balanced accuracy and macro F1."""
    return _score_predictions(y_true, y_pred, ("balanced_accuracy", "macro_f1"))


def cross_validate_probe(features, labels, probe="linear", *, groups=None, n_splits: int = 5, n_repeats: int = 1,
                         seed: int = 0, **probe_kwargs) -> dict:
    """Cross-validated balanced accuracy and macro F1 of a probe on frozen features.

    Parameters
    ----------
    features : np.ndarray, shape (num_units, num_features)
    labels : np.ndarray, shape (num_units,)
    probe : "linear" | "mlp" | estimator, default: "linear"
    groups : np.ndarray | None, shape (num_units,), default: None
        E.g. the recording of each unit: folds then hold out whole groups (GroupKFold).
    n_splits, n_repeats : int, default: 5, 1
        Stratified folds (repeated with different shuffles) when ``groups`` is None.
    seed : int, default: 0

    Returns
    -------
    dict
        ``balanced_accuracy``, ``macro_f1`` (means), ``balanced_accuracy_std``, ``macro_f1_std``, ``folds``.
    """
    if probe == "linear":
        estimator = make_linear_probe(seed=seed, **probe_kwargs)
    elif probe == "mlp":
        estimator = MLPProbe(seed=seed, **probe_kwargs)
    else:
        estimator = probe
    return cross_validated_scores(features, labels, estimator=estimator, folds=n_splits, repeats=n_repeats,
                                  groups=groups, seed=seed, metrics=("balanced_accuracy", "macro_f1"))


class NemoClassifier(nn.Module):
    """NEMO encoders + MLP head on the 500-d representation, trained end to end."""

    def __init__(self, model: NemoModel, num_classes: int, hidden: int = 256, dropout: float = 0.2):
        super().__init__()
        self.model = model
        self.head = _MLP(model.config.representation_dim, hidden, num_classes, dropout)

    def forward(self, acg, waveform):
        return self.head(self.model.representation(acg, waveform))


def fine_tune(
    model: NemoModel | None,
    acg_images: np.ndarray,
    waveforms: np.ndarray,
    labels: np.ndarray,
    *,
    epochs: int = 100,
    learning_rate: float = 1e-4,
    head_learning_rate: float = 1e-3,
    batch_size: int = 128,
    augment: bool = True,
    seed: int = 0,
    device: str | None = None,
    lr: float | None = None,
    head_lr: float | None = None,
):
    """End-to-end fine-tuning of a NEMO model with a classification head (class-balanced cross-entropy).

    ``model=None`` trains the same architecture from random weights: the paper's supervised baseline.

    ``learning_rate`` (encoders) and ``head_learning_rate`` (head) were ``lr`` and ``head_lr``: the old
    keywords still work until the next release, with a DeprecationWarning.

    Returns
    -------
    predict : callable
        ``predict(acg_images, waveforms) -> labels``.
    classifier : NemoClassifier
        In eval mode on the CPU; ``classifier.classes_`` holds the label values.
    """
    if lr is not None:
        _renamed_keyword("lr", "learning_rate", "fine_tune")
        learning_rate = lr
    if head_lr is not None:
        _renamed_keyword("head_lr", "head_learning_rate", "fine_tune")
        head_learning_rate = head_lr
    gen = seed_everything(seed)
    base = NemoModel() if model is None else copy.deepcopy(model)
    classes, y_idx = np.unique(np.asarray(labels), return_inverse=True)
    dev = resolve_device(device)
    clf = NemoClassifier(base, len(classes)).to(dev)
    clf.classes_ = classes
    acg = torch.as_tensor(np.asarray(acg_images, dtype=np.float32), device=dev)
    wf = np.asarray(waveforms, dtype=np.float32)
    wf = torch.as_tensor(wf[:, None, :] if wf.ndim == 2 else wf, device=dev)
    y = torch.as_tensor(y_idx, device=dev)
    weight = _class_weights(y_idx, len(classes)).to(dev)
    opt = torch.optim.Adam([{"params": clf.model.parameters(), "lr": learning_rate},
                            {"params": clf.head.parameters(), "lr": head_learning_rate}])
    aug_gen = torch.Generator(device=dev)
    aug_gen.manual_seed(seed)
    n = len(y)
    bs = min(batch_size, n)
    clf.train()
    for _ in range(epochs):
        order = torch.randperm(n, generator=gen).to(dev)
        for b in range(max(1, n // bs)):
            idx = order[b * bs : (b + 1) * bs]
            if idx.numel() < 2:
                continue
            a, w = acg[idx], wf[idx]
            if augment:
                a, w = augment_acg(a, AugmentConfig(), aug_gen), augment_waveform(w, AugmentConfig(), aug_gen)
            loss = F.cross_entropy(clf(a, w), y[idx], weight=weight)
            opt.zero_grad()
            loss.backward()
            opt.step()
    clf.eval().cpu()

    @torch.no_grad()
    def predict(acg_new, wf_new):
        wf_new = np.asarray(wf_new, dtype=np.float32)
        wf_new = wf_new[:, None, :] if wf_new.ndim == 2 else wf_new
        logits = clf(torch.as_tensor(np.asarray(acg_new, dtype=np.float32)), torch.as_tensor(wf_new))
        return classes[logits.argmax(1).numpy()]

    return predict, clf


def ensemble_by_depth(logits: np.ndarray, positions: np.ndarray, *, radius_um: float = 60.0,
                      max_units: int = 5, query_positions: np.ndarray | None = None) -> np.ndarray:
    """Multi-unit ensembling (NEMO Sec. 4.5): average the logits of the nearest units within ``radius_um``.

    Parameters
    ----------
    logits : np.ndarray, shape (num_units, num_classes)
        Single-unit classifier outputs (e.g. ``decision_function``).
    positions : np.ndarray, shape (num_units,) or (num_units, num_dims)
        Depth (or location) of each unit, um.
    radius_um : float, default: 60.0
    max_units : int, default: 5
        At most this many nearest units are averaged.
    query_positions : np.ndarray | None, default: None
        Where to predict (e.g. 20 um depth bins); default: at each unit (the unit itself included).

    Returns
    -------
    np.ndarray, shape (num_queries, num_classes)
        Averaged logits; NaN rows where no unit is within the radius.
    """
    logits = np.asarray(logits, dtype=np.float64)
    pos = np.asarray(positions, dtype=np.float64)
    pos = pos[:, None] if pos.ndim == 1 else pos
    q = pos if query_positions is None else np.asarray(query_positions, dtype=np.float64)
    q = q[:, None] if q.ndim == 1 else q
    dist = np.linalg.norm(q[:, None, :] - pos[None, :, :], axis=-1)
    order = np.argsort(dist, axis=1, kind="stable")[:, :max_units]
    near = np.take_along_axis(dist, order, axis=1) <= radius_um
    counts = near.sum(1, keepdims=True)
    summed = (logits[order] * near[..., None]).sum(1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, summed / counts, np.nan)


def cluster_embeddings(features: np.ndarray, *, n_neighbors: int = 15, resolution: float = 1.0,
                       graph: str = "umap", seed: int = 0) -> np.ndarray:
    """Louvain communities of a neighbour graph of the (standardised) embeddings.

    Parameters
    ----------
    features : np.ndarray, shape (num_units, num_features)
    n_neighbors : int, default: 15
    resolution : float, default: 1.0
        Louvain resolution (gamma of the modularity).
    graph : "umap" | "knn", default: "umap"
        "umap": UMAP's fuzzy simplicial graph (needs ``umap-learn``, as in the paper); "knn": a symmetrised
        k-nearest-neighbour graph with Gaussian weights (scikit-learn only).
    seed : int, default: 0

    Returns
    -------
    np.ndarray, shape (num_units,)
        Cluster labels 0..k-1, largest cluster first.
    """
    import networkx as nx

    X = np.asarray(features, dtype=np.float64)
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    k = min(n_neighbors, len(X) - 1)
    if graph == "umap":
        try:
            import umap
        except ImportError as err:
            raise ImportError("graph='umap' needs umap-learn (pip install umap-learn); or use graph='knn'") from err
        adjacency = umap.UMAP(n_neighbors=k, random_state=seed).fit(X).graph_
    elif graph == "knn":
        from sklearn.neighbors import kneighbors_graph

        dist = kneighbors_graph(X, k, mode="distance")
        sigma = np.median(dist.data) + 1e-12
        dist.data = np.exp(-((dist.data / sigma) ** 2))
        adjacency = dist.maximum(dist.T)
    else:
        raise ValueError("graph must be 'umap' or 'knn'")
    g = nx.from_scipy_sparse_array(adjacency)
    communities = nx.community.louvain_communities(g, weight="weight", resolution=resolution, seed=seed)
    labels = np.empty(len(X), dtype=np.int64)
    for i, c in enumerate(sorted(communities, key=len, reverse=True)):
        labels[list(c)] = i
    return labels
