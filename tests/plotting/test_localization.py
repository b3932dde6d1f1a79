import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
from spikeinterface.core import create_sorting_analyzer  # noqa: E402

from si_amortized.plotting.localization import plot_spike_locations  # noqa: E402


def test_plot_spike_locations_with_ground_truth(toy, toy_model):
    recording, sorting, _, units = toy
    sorting = sorting.clone() if hasattr(sorting, "clone") else sorting
    sorting.set_property("gt_unit_locations", units)
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    an.compute("vae_locations", model=toy_model)
    ax = plot_spike_locations(an, max_spikes_per_unit=20)
    # contacts + one scatter per unit + one star per unit
    assert len(ax.collections) == 1 + 2 * len(units)
    stars = np.vstack([c.get_offsets() for c in ax.collections[2::2]])
    np.testing.assert_allclose(stars, units[:, :2])
    assert "ground-truth" in ax.get_title()
