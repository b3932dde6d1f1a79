"""Scenarios, localization errors and GMM sorting scores, checked against hand-computed values."""

import numpy as np
import pytest

from si_amortized.evaluation import (
    GROUPS,
    SCENARIOS,
    Scenario,
    get_scenarios,
    gmm_labels,
    ground_truth_peaks,
    localize_ground_truth,
    location_errors,
    score_labels,
    summarize_errors,
)


def test_named_scenarios_and_sizes():
    assert set(GROUPS["sqmea"]) == {"sqmea-10uv", "sqmea-20uv", "sqmea-30uv"}
    full = SCENARIOS["np64-20uv"]
    assert full.probe == "Neuropixels-64" and full.noise_level == 20.0 and full.num_cells == 50
    quick = get_scenarios("np64-20uv", size="quick")[0]
    assert quick.duration == 20.0 and quick.num_cells == 50
    tiny = get_scenarios("sqmea-10uv", size="tiny", seed=7)[0]
    assert (tiny.num_cells, tiny.duration, tiny.seed) == (10, 5.0, 7)
    assert [s.name for s in get_scenarios("sqmea-10uv, all")][:2] == ["sqmea-10uv", "sqmea-20uv"]
    assert len(get_scenarios("all")) == 6
    other = tiny.with_other_neurons()
    assert other.seed != tiny.seed and other.probe == tiny.probe
    with pytest.raises(ValueError, match="Unknown scenario"):
        get_scenarios("sqmea-15uv")
    with pytest.raises(ValueError, match="size"):
        get_scenarios("sqmea", size="huge")


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


def test_score_labels_perfect_and_merged(mearec_small):
    recording, gt = mearec_small
    spikes = gt.to_spike_vector()
    peaks = np.zeros(spikes.size, dtype=[("sample_index", "i8"), ("segment_index", "i8")])
    peaks["sample_index"], peaks["segment_index"] = spikes["sample_index"], spikes["segment_index"]
    perfect = score_labels(gt, peaks, spikes["unit_index"].astype("int64"))
    assert perfect["accuracy"] == pytest.approx(1.0) and perfect["num_well_detected"] == gt.get_num_units()
    merged = score_labels(gt, peaks, (spikes["unit_index"] // 2).astype("int64"))
    assert merged["accuracy"] < 0.9 and merged["num_units"] == (gt.get_num_units() + 1) // 2


def test_gmm_labels_separate_clear_clusters_and_skip_nan():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(0, 1, (100, 2)), rng.normal(30, 1, (100, 2)), [[np.nan, 0.0]]])
    labels = gmm_labels(x, 2, seed=0)
    assert labels[-1] == -1
    assert len(set(labels[:100])) == 1 and len(set(labels[100:200])) == 1 and labels[0] != labels[150]


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
