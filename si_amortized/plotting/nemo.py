"""Plots of NEMO embeddings: a 2D map of the unit representations coloured by any unit property."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_nemo_embedding", "embedding_2d"]


def embedding_2d(features: np.ndarray, method: str = "pca", seed: int = 0) -> np.ndarray:
    """2D coordinates of standardised features: ``"pca"``, ``"tsne"`` (scikit-learn) or ``"umap"`` (umap-learn)."""
    X = np.asarray(features, dtype=np.float64)
    X = (X - X.mean(0)) / (X.std(0) + 1e-9)
    if method == "pca":
        from sklearn.decomposition import PCA

        return PCA(n_components=2, random_state=seed).fit_transform(X)
    if method == "tsne":
        from sklearn.manifold import TSNE

        return TSNE(n_components=2, perplexity=min(30.0, max(2.0, (len(X) - 1) / 3)), random_state=seed).fit_transform(X)
    if method == "umap":
        import umap

        return umap.UMAP(n_components=2, random_state=seed).fit_transform(X)
    raise ValueError("method must be 'pca', 'tsne' or 'umap'")


def plot_nemo_embedding(source, color_by=None, *, method: str = "pca", ax=None, seed: int = 0,
                        cmap: str | None = None, s: float = 20.0, title: str | None = None):
    """Scatter the 2D embedding of NEMO representations, coloured by a unit property.

    Parameters
    ----------
    source : SortingAnalyzer | np.ndarray
        An analyzer with ``nemo_embeddings`` computed, or a ``(num_units, num_features)`` array.
    color_by : str | np.ndarray | None, default: None
        A sorting property name (e.g. ``"mtype"``, ``"cell_type"``, ``"firing_rate"``) or values per unit;
        categorical values get a legend, numeric values a colour bar.
    method : "pca" | "tsne" | "umap", default: "pca"
    ax : matplotlib Axes | None, default: None
    seed : int, default: 0
    cmap : str | None, default: None
    s : float, default: 20.0
    title : str | None, default: None

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if hasattr(source, "get_extension"):
        ext = source.get_extension("nemo_embeddings")
        if ext is None:
            raise ValueError("compute 'nemo_embeddings' on the analyzer first")
        features = ext.get_data()
        if isinstance(color_by, str):
            color_by = source.sorting.get_property(color_by)
            if color_by is None:
                raise ValueError("no such sorting property")
    else:
        features = np.asarray(source)
        if isinstance(color_by, str):
            raise ValueError("a property name needs an analyzer; pass the values instead")
    xy = embedding_2d(features, method=method, seed=seed)
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    if color_by is None:
        ax.scatter(xy[:, 0], xy[:, 1], s=s, color="k")
    else:
        values = np.asarray(color_by)
        if values.shape[0] != xy.shape[0]:
            raise ValueError("color_by must have one value per unit")
        if values.dtype.kind in "fiu" and len(np.unique(values)) > 12:
            sc = ax.scatter(xy[:, 0], xy[:, 1], s=s, c=values.astype(float), cmap=cmap or "viridis")
            plt.colorbar(sc, ax=ax)
        else:
            cats = np.unique(values.astype(str))
            colors = plt.get_cmap(cmap or ("tab10" if len(cats) <= 10 else "tab20"))
            for i, cat in enumerate(cats):
                m = values.astype(str) == cat
                ax.scatter(xy[m, 0], xy[m, 1], s=s, color=colors(i % colors.N), label=cat)
            ax.legend(fontsize=7, markerscale=0.8, frameon=False, loc="best", ncol=1 if len(cats) <= 8 else 2)
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title(title or "NEMO embedding")
    return ax
