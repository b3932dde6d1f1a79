import numpy as np
import pandas as pd
import probeinterface as pi
import pytest
from spikeinterface.core import NumpySorting, create_sorting_analyzer, generate_ground_truth_recording, load_sorting_analyzer

import si_amortized  # noqa: F401  (registers the extension)
from si_amortized.rollae import (
    RollAE,
    axion_323_positions,
    bin_spike_times,
    compute_plate_embeddings,
    embed_wells,
    layout_symmetries,
    plate_neural_metrics,
    pool_to_grid,
    stack_wells,
    well_channel_groups,
    well_spike_trains,
)

FS = 10000.0
DUR = 6.0


def _plate_recording(n_wells=2, seed=0):
    rec, sorting = generate_ground_truth_recording(
        durations=[DUR], sampling_frequency=FS, num_channels=8 * n_wells, num_units=6 * n_wells, seed=seed
    )
    pg = pi.ProbeGroup()
    for w in range(n_wells):
        p = pi.Probe(ndim=2, si_units="um")
        p.set_contacts(positions=axion_323_positions(200.0) + [w * 3000.0, 0.0], shapes="circle", shape_params={"radius": 15})
        pg.add_probe(p)
    pg.set_global_device_channel_indices(np.arange(8 * n_wells))
    rec.set_probegroup(pg)
    return rec, sorting


@pytest.fixture(scope="module")
def plate():
    rec, sorting = _plate_recording()
    analyzer = create_sorting_analyzer(sorting, rec, sparse=False)
    X = np.random.default_rng(0).poisson(1.0, size=(16, 8, 12)).astype(np.float32)
    model = RollAE(axion_323_positions(200.0), embedding_dim=4, encoder_hidden=(8, 6), decoder_hidden=(6, 8), receptive_field=4, epochs=1, seed=0).fit(X)
    return rec, sorting, analyzer, model


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


def test_extension_roundtrip_select_and_plate(plate, tmp_path):
    rec, sorting, analyzer, model = plate
    ext = analyzer.compute("well_embeddings", model=model, bin_width_s=0.5)
    df = ext.get_data()
    assert list(df.index) == ["0", "1"] and df.shape == (2, 4)
    direct, _ = embed_wells(analyzer, model=model, bin_width_s=0.5)
    np.testing.assert_allclose(df.to_numpy(), direct.to_numpy(), atol=1e-6)
    saved = analyzer.save_as(format="binary_folder", folder=tmp_path / "an")
    loaded = load_sorting_analyzer(tmp_path / "an")
    e2 = loaded.get_extension("well_embeddings")
    np.testing.assert_allclose(e2.get_data().to_numpy(), df.to_numpy())
    X = np.random.default_rng(3).poisson(1.0, size=(3, 8, 12)).astype(np.float32)
    np.testing.assert_allclose(e2.get_model().transform(X), model.transform(X), atol=1e-6)
    sub = analyzer.select_units(analyzer.unit_ids[:3])
    sub_df = sub.get_extension("well_embeddings").get_data()
    expected, _ = embed_wells(analyzer, model=model, bin_width_s=0.5, unit_ids=analyzer.unit_ids[:3])
    np.testing.assert_allclose(sub_df.to_numpy(), expected.to_numpy(), atol=1e-6)
    assert saved is not None
    # many recordings of a plate, with metadata
    table = compute_plate_embeddings(
        {"d7": analyzer, "d14": analyzer}, model=model, bin_width_s=0.5,
        metadata=pd.DataFrame(dict(recording=["d7", "d14"], day=[7, 14])),
    )
    assert table.index.names == ["recording", "day", "well"]
    assert table.shape == (4, 4)
    np.testing.assert_allclose(table.loc[("d7", 7)].to_numpy(), df.to_numpy(), atol=1e-6)
    metrics = plate_neural_metrics({"d7": analyzer})
    assert metrics.shape[0] == 2 and "burst_count" in metrics.columns
    with pytest.raises(ValueError, match="bins"):
        compute_plate_embeddings({"d7": analyzer}, model=model, bin_width_s=0.25)


def test_extension_with_saved_model_path(plate, tmp_path):
    _, _, analyzer, model = plate
    model.save(tmp_path / "model")
    ext = analyzer.compute("well_embeddings", model=tmp_path / "model", bin_width_s=0.5)
    from si_amortized.model_store import to_record

    assert ext.params["model"] == to_record(model).digest
    direct, _ = embed_wells(analyzer, model=model, bin_width_s=0.5)
    np.testing.assert_allclose(ext.get_data().to_numpy(), direct.to_numpy(), atol=1e-6)


def test_results_saved_by_earlier_versions_still_work(plate):
    """si_amortized <= 0.5 stored params with `model_path` and the model as `model_meta` + `model_param_i`."""
    _, _, analyzer, model = plate
    ext = analyzer.compute("well_embeddings", model=model, bin_width_s=0.5)
    expected = ext.get_data().to_numpy()
    meta, state = model.state()
    legacy = dict(embeddings=ext.data["embeddings"], well_ids=ext.data["well_ids"],
                  model_meta=dict(meta, state_keys=list(state)))
    legacy.update({f"model_param_{i}": v.numpy() for i, v in enumerate(state.values())})
    ext.data = legacy
    ext.params = dict(model_path=None, bin_width_s=0.5, well_property=None, grid_shape=None, fit_kwargs={})
    ext._model = None
    X = np.random.default_rng(5).poisson(1.0, size=(2, 8, 12)).astype(np.float32)
    np.testing.assert_allclose(ext.get_model().transform(X), model.transform(X), atol=1e-6)
    sub = analyzer.select_units(analyzer.unit_ids[:3])
    assert sub.get_extension("well_embeddings").get_data().shape[0] == 2
    np.testing.assert_allclose(ext.get_data().to_numpy(), expected)
