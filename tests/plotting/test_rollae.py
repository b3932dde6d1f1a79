"""Roll-AE plots: well rasters, embeddings, treatment dendrogram."""

import matplotlib

matplotlib.use("Agg")
import numpy as np
import pandas as pd

from si_amortized.plotting.rollae import plot_treatment_dendrogram, plot_well_embeddings, plot_well_raster
from si_amortized.rollae.downstream import treatment_centroid_distances
from tests.rollae.helpers import blobs


def test_plots():
    import matplotlib.pyplot as plt

    ax = plot_well_raster([np.array([0.1, 0.5]), np.zeros(0), np.array([1.0])])
    assert len(ax.collections) == 3
    ax = plot_well_raster(np.random.default_rng(0).poisson(0.3, size=(8, 50)), bin_width_s=0.5)
    assert len(ax.images) == 1
    X, y = blobs()
    df = pd.DataFrame(X, index=pd.MultiIndex.from_arrays([y, np.arange(80)], names=["condition", "well"]))
    ax = plot_well_embeddings(df, conditions="condition")
    assert len(ax.collections) == 2
    d = treatment_centroid_distances(X, y)
    plot_treatment_dendrogram(d)
    plt.close("all")
