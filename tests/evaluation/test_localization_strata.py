"""Strata of ground-truth spikes and the summary of errors across recordings, against values worked by hand."""

import numpy as np
import pytest
from spikeinterface.core import NumpySorting

from si_amortized.evaluation.localization_strata import (
    format_across_recordings,
    format_coverage_table,
    spike_strata,
    stratified_errors,
    summarize_across_recordings,
)


def _sorting():
    """Two units at 10 kHz: unit 0 (soma over the array) at samples 0, 5 and 100; unit 1 (outside) at 50."""
    sorting = NumpySorting.from_samples_and_labels([np.array([0, 5, 50, 100])], [np.array([0, 0, 1, 0])], 10_000.0)
    sorting.set_property("gt_unit_locations", np.array([[5.0, 5.0, 20.0], [50.0, 5.0, 30.0]]))
    return sorting


def test_strata_and_errors_by_hand():
    sorting = _sorting()
    contacts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    strata = spike_strata(sorting, contacts, collision_ms=1.0)  # 1 ms = 10 samples: samples 0 and 5 collide
    spikes = sorting.to_spike_vector()
    np.testing.assert_array_equal(spikes["sample_index"], [0, 5, 50, 100])
    np.testing.assert_array_equal(strata["colliding"], [True, True, False, False])
    np.testing.assert_array_equal(strata["inside"], [True, True, False, True])
    np.testing.assert_array_equal(strata["isolated_inside"], [False, False, False, True])
    locations = np.zeros(4, dtype=[("x", "f8"), ("y", "f8")])
    locations["x"] = [8.0, 5.0, 50.0, 5.0]  # errors 3, 0, 0 (x) and 4 (y)
    locations["y"] = [5.0, 5.0, 5.0, 9.0]
    table = stratified_errors(locations, sorting, strata)
    assert table["all"]["mean_2d"] == pytest.approx(7.0 / 4)
    assert table["colliding"]["mean_2d"] == pytest.approx(1.5)
    assert table["outside"]["mean_2d"] == pytest.approx(0.0)
    assert table["isolated_inside"]["mean_2d"] == pytest.approx(4.0)


def test_summary_across_recordings_means_and_ranges_only_complete_methods():
    def row(value):
        return {"all": {"mean_2d": value}}

    tables = {"seed 1": {"vae": row(8.0), "grid": row(12.0)}, "seed 2": {"vae": row(11.0)}}
    summary = summarize_across_recordings(tables)
    assert summary["vae"]["mean"] == pytest.approx(9.5)
    assert (summary["vae"]["min"], summary["vae"]["max"]) == (8.0, 11.0)
    assert "mean" not in summary["grid"] and np.isnan(summary["grid"]["per_recording"]["seed 2"])
    text = format_across_recordings(summary)
    assert "| vae | 8.00 | 11.00 | 9.50 | 8.00-11.00 |" in text
    assert "| grid | 12.00 | nan | - | - |" in text


def test_coverage_interval_on_all_spikes_and_its_table():
    sorting = _sorting()
    contacts = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0], [10.0, 10.0]])
    strata = spike_strata(sorting, contacts)
    locations = np.zeros(4, dtype=[(f, "f8") for f in ("x", "y", "x_std", "y_std")])
    locations["x"] = [8.0, 5.0, 50.0, 5.0]  # x errors 3, 0, 0, 0; y errors 0, 0, 0, 4
    locations["y"] = [5.0, 5.0, 5.0, 9.0]
    locations["x_std"], locations["y_std"] = 1.0, 1.0
    table = stratified_errors(locations, sorting, strata)
    everything = table["all"]
    np.testing.assert_allclose(everything["coverage_1sd"], [0.75, 0.75])
    # resampling the two units: unit 1 alone (no error) covers 1.0, unit 0 alone covers 2/3 on each axis
    for axis in range(2):
        low, high = everything["coverage_1sd_interval"][axis]
        assert low == pytest.approx(2 / 3) and high == pytest.approx(1.0)
    assert "coverage_1sd_interval" not in table["colliding"]
    text = format_coverage_table({"vae": table, "com": stratified_errors(locations[["x", "y"]], sorting, strata)})
    assert "0.75 [0.67, 1.00]" in text and "com" not in text
