"""Localization errors against hand-computed values; ground-truth peaks localized with center_of_mass."""

import numpy as np
import pytest

from si_amortized.evaluation import ground_truth_peaks, localize_ground_truth, location_errors, summarize_errors


def test_location_errors_and_summary_by_hand():
    locations = np.zeros(3, dtype=[("x", "f8"), ("y", "f8"), ("z", "f8")])
    locations["x"] = [3.0, 0.0, np.nan]
    locations["y"] = [4.0, 10.0, 0.0]
    gt = np.array([[0.0, 0.0, 30.0], [0.0, 4.0, 10.0]])  # z (distance to the probe) is ignored
    errors = location_errors(locations, np.array([0, 1, 0]), gt)
    np.testing.assert_allclose(errors[:2], [5.0, 6.0])
    assert np.isnan(errors[2])
    summary = summarize_errors(errors)
    assert summary["mean"] == pytest.approx(5.5) and summary["sd"] == pytest.approx(0.5)
    assert summary["median"] == pytest.approx(5.5) and summary["failed_fraction"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        summarize_errors([np.nan])


def test_ground_truth_localization_center_of_mass(mearec_small):
    recording, gt = mearec_small
    peaks = ground_truth_peaks(recording, gt, job_kwargs=dict(progress_bar=False))
    assert peaks.size == gt.to_spike_vector().size
    # the main channel of each unit is near its soma (the soma is at most ~40 um off the array here)
    somas = gt.get_property("gt_unit_locations")[:, :2]
    channels = recording.get_channel_locations()
    units = gt.to_spike_vector()["unit_index"]
    assert np.median(np.linalg.norm(channels[peaks["channel_index"]] - somas[units], axis=1)) < 40
    results = localize_ground_truth(recording, gt, ["center_of_mass"], peaks=peaks,
                                    job_kwargs=dict(progress_bar=False))
    com = results["center_of_mass"]
    assert com.errors.shape == (peaks.size,)
    assert 1.0 < com.summary["mean"] < 60.0 and com.spikes_per_second > 0
