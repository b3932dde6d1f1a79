"""NEMO plots."""

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

from tests.nemo.helpers import blobs


def test_embedding_plot(tmp_path):
    from si_amortized.plotting.nemo import plot_nemo_embedding

    X, y = blobs()
    ax = plot_nemo_embedding(X, color_by=np.array(["a", "b", "c"])[y])
    assert len(ax.collections) == 3
    ax = plot_nemo_embedding(X, color_by=np.linspace(0, 1, len(X)), method="tsne")
    ax.figure.savefig(tmp_path / "emb.png")
    assert (tmp_path / "emb.png").stat().st_size > 0
    with pytest.raises(ValueError):
        plot_nemo_embedding(X, color_by=y[:5])
