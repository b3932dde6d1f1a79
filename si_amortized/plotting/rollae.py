"""Roll-AE plots: a well raster, many wells' embeddings coloured by condition, a treatment dendrogram."""

from __future__ import annotations

import numpy as np

__all__ = ["plot_well_raster", "plot_well_embeddings", "plot_treatment_dendrogram"]


def plot_well_raster(well, bin_width_s: float | None = None, electrode_labels=None, ax=None, title: str | None = None):
    """Raster of one well.

    Parameters
    ----------
    well : WellSpikeTrains | list of np.ndarray | np.ndarray
        Spike trains (a :class:`~si_amortized.rollae.wells.WellSpikeTrains`, or one array of spike times per
        electrode), or binned counts ``(num_electrodes, num_bins)`` drawn as an image.
    bin_width_s : float | None
        Bin width for binned input (x axis in seconds); ``None``: bins.
    electrode_labels : sequence | None
    ax : matplotlib Axes | None

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(8, 3))
    if hasattr(well, "spike_times"):
        electrode_labels = electrode_labels if electrode_labels is not None else [str(c) for c in well.channel_ids]
        title = title if title is not None else f"well {well.well_id}"
        well = well.spike_times
    if isinstance(well, np.ndarray) and well.ndim == 2 and well.dtype != object:
        n_el, n_bins = well.shape
        extent = [0, n_bins * (bin_width_s or 1.0), n_el - 0.5, -0.5]
        ax.imshow(well, aspect="auto", interpolation="nearest", cmap="Greys", extent=extent)
        ax.set_xlabel("time (s)" if bin_width_s else "bin")
    else:
        ax.eventplot([np.asarray(t) for t in well], colors="k", linelengths=0.8, linewidths=0.6)
        ax.set_ylim(len(well) - 0.5, -0.5)
        ax.set_xlabel("time (s)")
        n_el = len(well)
    ax.set_yticks(range(n_el))
    if electrode_labels is not None:
        ax.set_yticklabels(electrode_labels)
    ax.set_ylabel("electrode")
    if title:
        ax.set_title(title)
    return ax


def plot_well_embeddings(embeddings, conditions=None, method: str = "pca", ax=None, seed: int = 0, legend: bool = True, **scatter_kwargs):
    """2D map of many wells' embeddings, coloured by condition.

    Parameters
    ----------
    embeddings : array-like or pandas.DataFrame, shape (num_wells, embedding_dim)
    conditions : array-like | str | None
        One label per well, or the name of an index level / column of ``embeddings`` (a DataFrame).
    method : {"pca", "tsne"}, default: "pca"
        Projection of the standardised embeddings.
    ax : matplotlib Axes | None

    Returns
    -------
    matplotlib Axes
    """
    import matplotlib.pyplot as plt
    import pandas as pd

    if isinstance(conditions, str) and isinstance(embeddings, pd.DataFrame):
        if conditions in embeddings.index.names:
            conditions = embeddings.index.get_level_values(conditions).to_numpy()
        else:
            conditions = embeddings.pop(conditions).to_numpy() if conditions in embeddings else None
    X = np.asarray(embeddings, dtype=float)
    sd = X.std(axis=0)
    X = (X - X.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    if method == "pca":
        from sklearn.decomposition import PCA

        Y = PCA(n_components=2, random_state=seed).fit_transform(X)
    elif method == "tsne":
        from sklearn.manifold import TSNE

        Y = TSNE(n_components=2, random_state=seed, perplexity=min(30.0, max(2.0, (len(X) - 1) / 3))).fit_transform(X)
    else:
        raise ValueError("method must be 'pca' or 'tsne'")
    if ax is None:
        _, ax = plt.subplots(figsize=(5, 4.5))
    if conditions is None:
        ax.scatter(Y[:, 0], Y[:, 1], s=scatter_kwargs.pop("s", 12), **scatter_kwargs)
    else:
        conditions = np.asarray(conditions)
        for c in pd.unique(conditions):
            m = conditions == c
            ax.scatter(Y[m, 0], Y[m, 1], s=scatter_kwargs.get("s", 12), label=str(c), alpha=scatter_kwargs.get("alpha", 0.8))
        if legend:
            ax.legend(fontsize="small", markerscale=1.5, frameon=False, loc="best")
    ax.set_xlabel(f"{method.upper()} 1")
    ax.set_ylabel(f"{method.upper()} 2")
    ax.set_title("well embeddings")
    return ax


def plot_treatment_dendrogram(distances, ax=None, method: str = "average"):
    """Dendrogram of treatments from :func:`~si_amortized.rollae.downstream.treatment_centroid_distances`."""
    import matplotlib.pyplot as plt
    from scipy.cluster.hierarchy import dendrogram

    from ..rollae.downstream import treatment_linkage

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3))
    dendrogram(treatment_linkage(distances, method=method), labels=[str(i) for i in distances.index], ax=ax)
    ax.set_ylabel("centroid distance")
    return ax
