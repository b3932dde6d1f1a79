"""End-to-end on the MEArec fixture: the VAE beats SpikeInterface's center_of_mass."""

import numpy as np
import pytest

import si_amortized  # noqa: F401
from spikeinterface.core import create_sorting_analyzer


@pytest.mark.slow
def test_vae_beats_center_of_mass_on_mearec(mearec_small):
    recording, sorting = mearec_small
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    an.compute(["random_spikes", "templates"])
    gt = sorting.get_property("gt_unit_locations")[sorting.to_spike_vector()["unit_index"]]
    vae = an.compute("vae_locations", epochs=15, batch_size=50, seed=0).get_data()
    com = an.compute("spike_locations", method="center_of_mass").get_data()
    err_vae = np.hypot(vae["x"] - gt[:, 0], vae["y"] - gt[:, 1])
    err_com = np.hypot(com["x"] - gt[:, 0], com["y"] - gt[:, 1])
    assert np.nanmean(err_vae) < np.nanmean(err_com), (np.nanmean(err_vae), np.nanmean(err_com))
    assert np.nanmedian(err_vae) < np.nanmedian(err_com)
