import numpy as np
import pytest

from si_amortized.rollae import (
    bin_spike_times,
    layout_symmetries,
    pool_to_grid,
    stack_wells,
    well_channel_groups,
    well_spike_trains,
)

from .helpers import DUR, FS


def test_wells_from_probegroup_and_labels(plate):
    rec, *_ = plate
    groups = well_channel_groups(rec)
    assert list(groups) == ["0", "1"] and all(len(v) == 8 for v in groups.values())
    rec2 = rec.clone()
    rec2.set_property("well", ["B2"] * 4 + ["A1"] * 12)
    assert {k: len(v) for k, v in well_channel_groups(rec2).items()} == {"B2": 4, "A1": 12}
    with pytest.raises(ValueError, match="not found"):
        well_channel_groups(rec, well_property="plate_row")
    mcs = rec.rename_channels([f"{'A1' if i < 8 else 'B3'}_{11 + i % 8}" for i in range(16)])
    mcs.delete_property("group") if "group" in mcs.get_property_keys() else None
    mcs.set_property("group", [0] * 16)
    assert {k: len(v) for k, v in well_channel_groups(mcs).items()} == {"A1": 8, "B3": 8}


def test_analyzer_units_on_main_channel(plate):
    rec, sorting, analyzer, _ = plate
    wells = well_spike_trains(analyzer)
    assert [w.well_id for w in wells] == ["0", "1"]
    main = analyzer.get_main_channels(outputs="id", with_dict=True)
    for w in wells:
        for ch, times in zip(w.channel_ids, w.spike_times):
            expected = sum(len(sorting.get_unit_spike_train(u)) for u in sorting.unit_ids if main[u] == ch)
            assert len(times) == expected
    # positions are centred and ordered by (y, x), identical for the two wells
    np.testing.assert_allclose(wells[0].positions, wells[1].positions)
    np.testing.assert_allclose(wells[0].positions.mean(axis=0), 0.0, atol=1e-9)
    X, pos = stack_wells(wells, 0.5)
    assert X.shape == (2, 8, 12)
    assert X.sum() == sum(len(t) for w in wells for t in w.spike_times)
    assert len(layout_symmetries(pos)) == 4


def test_recording_peaks_per_channel(plate):
    rec, *_ = plate
    wells = well_spike_trains(rec, detect_kwargs=dict(detect_threshold=5))
    counts = [len(t) for w in wells for t in w.spike_times]
    assert sum(counts) > 0
    assert all(np.all((t >= 0) & (t < DUR)) for w in wells for t in w.spike_times)


def test_binning_and_bad_bin_width():
    counts = bin_spike_times([np.array([0.1, 0.2, 0.6, 1.9]), np.zeros(0)], duration=2.0, bin_width_s=0.5)
    np.testing.assert_array_equal(counts, [[2, 1, 0, 1], [0, 0, 0, 0]])
    with pytest.raises(ValueError, match="longer than the recording"):
        bin_spike_times([np.array([0.1])], duration=2.0, bin_width_s=3.0)
    with pytest.raises(ValueError):
        bin_spike_times([np.array([0.1])], duration=2.0, bin_width_s=0.0)


def test_electrodes_without_position():
    from spikeinterface.core import NumpyRecording

    traces = np.random.default_rng(0).normal(size=(int(FS), 4)).astype(np.float32)
    rec = NumpyRecording([traces], FS)  # no probe, no locations
    with pytest.raises(ValueError, match="no position"):
        well_spike_trains(rec)
    rec.set_property("location", np.array([[0, 0], [1, 0], [np.nan, np.nan], [2, 0]], dtype=float))
    with pytest.raises(ValueError, match="position"):
        well_spike_trains(rec)


def test_pool_to_grid_keeps_all_spikes(plate):
    _, _, analyzer, _ = plate
    w = well_spike_trains(analyzer)[0]
    g = pool_to_grid(w, (2, 2))
    assert len(g.spike_times) == 4
    assert sum(len(t) for t in g.spike_times) == sum(len(t) for t in w.spike_times)
