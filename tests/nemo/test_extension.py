"""The ``nemo_embeddings`` extension: values, unit order, save/load round trips, select/merge/split, bad inputs."""

import numpy as np
import pytest
import torch

import si_amortized  # noqa: F401  (registers the extension)
import spikeinterface.full as si
from si_amortized.nemo import (
    DEFAULT_EMBEDDING,
    NemoModel,
    compute_nemo_embeddings,
    embed,
    embedding_features,
    prepare_inputs,
    pretrained_model_path,
    save_nemo_model,
)


NEMO_DIM = 500 + 512  # the default embedding: the representation, then the waveform's projection


def _model(seed=0):
    torch.manual_seed(seed)
    return NemoModel().eval()


def _features(model, acg, wf):
    """The default embedding's features, computed directly."""
    return embedding_features(*embed(model, acg, wf, projections=True), DEFAULT_EMBEDDING)


@pytest.fixture(scope="module")
def generated():
    rec, sort = si.generate_ground_truth_recording(durations=[30.0], num_units=6, num_channels=8, seed=1)
    analyzer = si.create_sorting_analyzer(sort, rec, sparse=False)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    return analyzer


def test_values_match_direct_embedding(generated):
    model = _model()
    ext = generated.compute("nemo_embeddings", model=model, embedding="representation", return_projections=True)
    rep = ext.get_data()
    assert rep.shape == (6, 500) and np.isfinite(rep).all()
    acg, wf = prepare_inputs(generated)
    rep2, proj2 = embed(model, acg, wf, projections=True)
    np.testing.assert_allclose(rep, rep2, atol=1e-6)
    np.testing.assert_allclose(ext.get_data("projections"), proj2, atol=1e-6)
    assert "projections" not in generated.compute("nemo_embeddings", model=model, embedding="representation").data
    assert ext.get_data("acg_images").shape == (6, 10, 101)
    assert ext.get_data("waveforms").shape == (6, 1, 90)
    with pytest.raises(ValueError):
        ext.get_data("model_weights")
    # the function alias gives the same
    np.testing.assert_allclose(compute_nemo_embeddings(generated, model=model, embedding="representation"), rep,
                               atol=1e-6)


def test_default_embedding_is_the_representation_then_the_unit_norm_waveform_projection(generated):
    model = _model(2)
    ext = generated.compute("nemo_embeddings", model=model)
    assert ext.params["embedding"] == ["representation", "waveform_projection"]
    features, names = ext.get_data(), ext.get_data("feature_names")
    assert features.shape == (6, 500 + 512) and len(names) == features.shape[1]
    assert names[499:501] == ["nemo_499", "nemo_wf_proj_0"] and names[-1] == "nemo_wf_proj_511"
    rep, proj = embed(model, *prepare_inputs(generated), projections=True)
    np.testing.assert_allclose(features[:, :500], rep, atol=1e-6)
    np.testing.assert_allclose(features[:, 500:], proj[:, 1], atol=1e-6)
    np.testing.assert_allclose(np.linalg.norm(features[:, 500:], axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(ext.get_data("projections"), proj, atol=1e-6)
    # parts in any order or joined by "+", stored in the canonical order
    both = generated.compute("nemo_embeddings", model=model, embedding=["waveform_projection", "acg_projection"])
    assert both.params["embedding"] == ["acg_projection", "waveform_projection"]
    np.testing.assert_allclose(both.get_data(), proj.reshape(6, -1), atol=1e-6)
    assert both.get_data("feature_names")[512] == "nemo_wf_proj_0"
    three = generated.compute("nemo_embeddings", model=model, embedding="representation+acg_projection+waveform_projection")
    np.testing.assert_allclose(three.get_data(), np.c_[rep, proj.reshape(6, -1)], atol=1e-6)
    for bad in ("both", [], ["representation", "representation"], None, "representation+"):
        with pytest.raises(ValueError, match="embedding must be"):
            generated.compute("nemo_embeddings", model=model, embedding=bad)


def test_unit_order_invariance(generated):
    model = _model(1)
    rep = generated.compute("nemo_embeddings", model=model).get_data()
    order = generated.unit_ids[::-1][[1, 0, 2, 3, 4, 5]]
    sorting = generated.sorting.select_units(list(order))
    analyzer = si.create_sorting_analyzer(sorting, generated.recording, sparse=False)
    analyzer.compute("random_spikes", seed=generated.get_extension("random_spikes").params["seed"])
    analyzer.compute("templates", progress_bar=False)
    rep_perm = analyzer.compute("nemo_embeddings", model=model).get_data()
    idx = generated.sorting.ids_to_indices(order)
    # same spike trains -> same ACG images; templates may differ through the random spike subset
    np.testing.assert_allclose(analyzer.get_extension("nemo_embeddings").get_data("acg_images"),
                               generated.get_extension("nemo_embeddings").get_data("acg_images")[idx])
    # and with the same templates the embeddings are the same rows
    acg, wf = prepare_inputs(generated)
    np.testing.assert_allclose(_features(model, acg[idx], wf[idx]), rep[idx], atol=1e-6)
    assert rep_perm.shape == rep.shape


@pytest.mark.parametrize("fmt", ["binary_folder", "zarr"])
def test_save_load_round_trip(generated, tmp_path, fmt):
    model = _model(2)
    rep = generated.compute("nemo_embeddings", model=model, return_projections=True).get_data()
    folder = tmp_path / f"analyzer.{fmt}"
    generated.save_as(format=fmt, folder=folder)
    loaded = si.load_sorting_analyzer(folder)
    ext = loaded.get_extension("nemo_embeddings")
    np.testing.assert_array_equal(ext.get_data(), rep)
    assert ext.params["model"] == si_amortized.model_store.to_record(model).digest
    # the stored model is reusable: same embeddings, and usable on another analyzer
    rebuilt = ext.get_model()
    acg, wf = prepare_inputs(generated)
    np.testing.assert_allclose(_features(rebuilt, acg, wf), rep, atol=1e-6)
    again = generated.compute("nemo_embeddings", model=rebuilt).get_data()
    np.testing.assert_allclose(again, rep, atol=1e-6)


def test_model_from_path(generated, tmp_path):
    model = _model(3)
    path = save_nemo_model(model, tmp_path / "model.pt")
    ext = generated.compute("nemo_embeddings", model=str(path))
    np.testing.assert_allclose(ext.get_data(), _features(model, *prepare_inputs(generated)), atol=1e-6)
    assert ext.params["model"] == si_amortized.model_store.to_record(model).digest
    with pytest.raises(TypeError):
        generated.compute("nemo_embeddings", model=42)


def test_select_merge_split_recompute(generated):
    model = _model(4)
    rep = generated.compute("nemo_embeddings", model=model).get_data()
    ids = generated.unit_ids
    sub = generated.select_units(ids[[4, 1]])
    np.testing.assert_array_equal(sub.get_extension("nemo_embeddings").get_data(), rep[[4, 1]])

    merged = generated.merge_units([[ids[0], ids[1]]], new_id_strategy="append")
    got = merged.get_extension("nemo_embeddings").get_data()
    assert got.shape == (5, NEMO_DIM)
    expected = _features(model, *prepare_inputs(merged))  # from scratch on the merged analyzer
    np.testing.assert_allclose(got, expected, atol=1e-5)
    for uid in ids[2:]:
        np.testing.assert_allclose(got[list(merged.unit_ids).index(uid)], rep[list(ids).index(uid)], atol=1e-6)

    n = generated.sorting.count_num_spikes_per_unit()[ids[2]]
    halves = [np.arange(0, n, 2), np.arange(1, n, 2)]
    split = generated.split_units({ids[2]: halves})
    got = split.get_extension("nemo_embeddings").get_data()
    assert got.shape == (7, NEMO_DIM)
    np.testing.assert_allclose(got, _features(model, *prepare_inputs(split)), atol=1e-5)


def test_default_pretrained_model(generated):
    assert pretrained_model_path().is_file(), "the package must ship its default model"
    assert pretrained_model_path().stat().st_size < 5_000_000
    ext = generated.compute("nemo_embeddings")
    assert ext.params["model"] == "pretrained"
    assert generated.compute("nemo_embeddings", model="pretrained").params == ext.params
    rep = ext.get_data()
    assert rep.shape == (6, NEMO_DIM) and np.isfinite(rep).all()


def test_bad_inputs_sampling_rate_empty_and_sparse_units():
    model = _model(5)
    rec = si.generate_recording(num_channels=8, durations=[20.0], sampling_frequency=20_000.0, seed=2)
    fs = rec.sampling_frequency
    rng = np.random.default_rng(0)
    trains = {
        "busy": np.sort(rng.choice(int(19 * fs), 400, replace=False)) + int(0.5 * fs),
        "few": np.sort(rng.choice(int(19 * fs), 5, replace=False)) + int(0.5 * fs),
        "empty": np.zeros(0, dtype=np.int64),
    }
    sorting = si.NumpySorting.from_unit_dict([trains], sampling_frequency=fs)
    analyzer = si.create_sorting_analyzer(sorting, rec, sparse=False)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    with pytest.warns(UserWarning, match="fewer than min_spikes"):
        ext = analyzer.compute("nemo_embeddings", model=model)
    rep = ext.get_data()
    # below min_spikes (10) a unit gets a NaN row, not a normal-looking vector
    assert rep.shape == (3, NEMO_DIM) and np.isfinite(rep[0]).all() and np.isnan(rep[1:]).all()
    rep_all = analyzer.compute("nemo_embeddings", model=model, min_spikes=5).get_data()
    assert np.isfinite(rep_all[:2]).all() and np.isnan(rep_all[2]).all()
    acg = ext.get_data("acg_images")
    assert acg[1].sum() >= 0 and not acg[2].any()
    assert ext.get_data("waveforms").shape == (3, 1, 90)


def test_mearec_fixture(mearec_small):
    recording, sorting = mearec_small
    analyzer = si.create_sorting_analyzer(sorting, recording, sparse=False)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    ext = analyzer.compute("nemo_embeddings", model=_model(6))
    rep = ext.get_data()
    assert rep.shape == (sorting.get_num_units(), NEMO_DIM) and np.isfinite(rep).all()
    wf = ext.get_data("waveforms")
    # MEArec runs at 32 kHz: the waveforms are still on the 90-sample grid with the main peak at -1
    np.testing.assert_allclose(wf[:, 0, 30], -1.0, atol=1e-5)


def test_sparse_analyzer_and_multichannel_model(generated):
    from si_amortized.nemo import NemoConfig, WaveformConfig

    model = _model(7)
    sparse = si.create_sorting_analyzer(generated.sorting, generated.recording, sparse=True)
    sparse.compute("random_spikes", seed=generated.get_extension("random_spikes").params["seed"])
    sparse.compute("templates", progress_bar=False)
    np.testing.assert_allclose(sparse.compute("nemo_embeddings", model=model).get_data(),
                               generated.compute("nemo_embeddings", model=model).get_data(), atol=1e-6)
    torch.manual_seed(8)
    m9 = NemoModel(NemoConfig(waveform=WaveformConfig(num_channels=9))).eval()
    ext = sparse.compute("nemo_embeddings", model=m9)
    assert ext.get_data("waveforms").shape == (6, 9, 90)
    assert ext.get_data().shape == (6, NEMO_DIM)


def test_degenerate_units_get_nan_rows_and_a_warning(generated):
    from spikeinterface.core import NumpySorting

    rec = generated.recording
    spikes = generated.sorting.to_spike_vector()
    samples, labels = [spikes["sample_index"]], [spikes["unit_index"].astype("int64")]
    # three extra units with 0 (absent from the trains), 1 and 2 spikes
    extra = np.array([1000, 2000, 3000]), np.array([7, 8, 8])
    sorting = NumpySorting.from_samples_and_labels(
        [np.concatenate([samples[0], extra[0]])], [np.concatenate([labels[0], extra[1]])], rec.sampling_frequency,
        unit_ids=np.arange(9),
    )
    analyzer = si.create_sorting_analyzer(sorting, rec, sparse=False)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    with pytest.warns(UserWarning, match="fewer than min_spikes=3"):
        ext = analyzer.compute("nemo_embeddings", model=_model(), min_spikes=3)
    rep = ext.get_data()
    assert np.isnan(rep[6:]).all() and np.isfinite(rep[:6]).all()
    assert ext.get_data("valid").tolist() == [True] * 6 + [False] * 3
    # the same units are valid with min_spikes=0 except the one with no spike (zero template)
    with pytest.warns(UserWarning, match="zero or non-finite templates"):
        rep0 = analyzer.compute("nemo_embeddings", model=_model(), min_spikes=0).get_data()
    assert np.isnan(rep0[6]).all() and np.isfinite(rep0[7:]).all()


def test_nan_channel_is_ignored_with_a_warning(generated):
    rec = generated.recording
    traces = rec.get_traces().copy()
    main = generated.main_channel_indices
    dead = int(main[0])
    traces[:, dead] = np.nan
    bad = si.NumpyRecording([traces], sampling_frequency=rec.sampling_frequency)
    bad.set_probe(rec.get_probe())
    analyzer = si.create_sorting_analyzer(generated.sorting, bad, sparse=False, main_channel_indices=main)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    with pytest.warns(UserWarning, match=f"channels .*{generated.channel_ids[dead]}"):
        rep = analyzer.compute("nemo_embeddings", model=_model()).get_data()
    assert np.isfinite(rep).all()


def _fresh_metrics(analyzer, unit_ids, names):
    """template_metrics + spiketrain_metrics computed from scratch on a copy, rows by unit id."""
    import pandas as pd

    fresh = analyzer.copy()
    fresh.compute({"template_metrics": dict(delete_existing_metrics=True),
                   "spiketrain_metrics": dict(delete_existing_metrics=True)}, verbose=False)
    table = pd.concat([fresh.get_extension("template_metrics").get_data(),
                       fresh.get_extension("spiketrain_metrics").get_data()], axis=1)
    return np.array([[float(table.loc[uid, name]) for name in names] for uid in unit_ids])


def _check_combined(analyzer, model):
    """The extension's nemo+metrics rows against a fresh computation for the analyzer's unit ids."""
    ext = analyzer.get_extension("nemo_embeddings")
    assert ext.params["features"] == "nemo+metrics"
    features, names = ext.get_data(), ext.get_data("feature_names")
    assert features.shape == (analyzer.get_num_units(), len(names))
    assert names[:500] == [f"nemo_{i}" for i in range(500)] and names[NEMO_DIM - 1] == "nemo_wf_proj_511"
    np.testing.assert_allclose(features[:, :NEMO_DIM], _features(model, *prepare_inputs(analyzer)), atol=1e-5)
    expected = _fresh_metrics(analyzer, analyzer.unit_ids, names[NEMO_DIM:])
    np.testing.assert_array_equal(np.isnan(features[:, NEMO_DIM:]), np.isnan(expected))  # NaN metrics stay NaN
    np.testing.assert_allclose(features[:, NEMO_DIM:], expected, rtol=1e-9, equal_nan=True)
    return features


def test_features_nemo_plus_metrics_line_up_with_unit_ids(generated):
    from si_amortized.nemo.inputs import unit_metrics

    model = _model(9)
    analyzer = generated.copy()
    rep = analyzer.compute("nemo_embeddings", model=model).get_data()
    assert len(analyzer.get_extension("nemo_embeddings").get_data("feature_names")) == NEMO_DIM
    ext = analyzer.compute("nemo_embeddings", model=model, features="nemo+metrics")
    features = _check_combined(analyzer, model)
    # the NEMO columns are features="nemo"; absent metric extensions are computed, not attached
    np.testing.assert_array_equal(features[:, :NEMO_DIM], rep)
    np.testing.assert_array_equal(ext.get_data("representations"), rep[:, :500])
    assert not analyzer.has_extension("template_metrics") and not analyzer.has_extension("spiketrain_metrics")
    values, names = unit_metrics(analyzer)
    assert ext.get_data("feature_names")[NEMO_DIM:] == names and {"num_spikes", "firing_rate"} <= set(names)
    np.testing.assert_array_equal(ext.get_data("metrics"), values)
    assert np.isnan(values).any() and np.isfinite(values).any()

    ids = analyzer.unit_ids
    sub = analyzer.select_units(ids[[4, 1]])
    np.testing.assert_array_equal(sub.get_extension("nemo_embeddings").get_data(), features[[4, 1]])
    _check_combined(sub, model)
    for mode in ("soft", "hard"):
        merged = analyzer.merge_units([[ids[0], ids[3]]], merging_mode=mode, new_id_strategy="append")
        got = _check_combined(merged, model)
        for uid in (ids[1], ids[5]):  # untouched units keep their rows
            np.testing.assert_allclose(got[list(merged.unit_ids).index(uid)], features[list(ids).index(uid)],
                                       atol=1e-6)
    n = analyzer.sorting.count_num_spikes_per_unit()[ids[2]]
    split = analyzer.split_units({ids[2]: [np.arange(0, n, 2), np.arange(1, n, 2)]})
    assert split.get_extension("nemo_embeddings").get_data().shape == (7, features.shape[1])
    _check_combined(split, model)


def test_bad_features_raise_before_anything_is_reset(generated, tmp_path):
    analyzer = generated.save_as(format="binary_folder", folder=tmp_path / "an")
    ext = analyzer.compute("nemo_embeddings", model=_model(10), features="nemo+metrics")
    expected, names = ext.get_data(), ext.get_data("feature_names")
    for bad in ("metrics", "NEMO", None):
        with pytest.raises(ValueError, match="features must be one of"):
            analyzer.compute("nemo_embeddings", **{**ext.params, "features": bad})
    np.testing.assert_array_equal(analyzer.get_extension("nemo_embeddings").get_data(), expected)
    reloaded = si.load_sorting_analyzer(tmp_path / "an").get_extension("nemo_embeddings")
    np.testing.assert_array_equal(reloaded.get_data(), expected)
    assert reloaded.get_data("feature_names") == names and reloaded.params["features"] == "nemo+metrics"


def test_features_nemo_plus_metrics_use_the_analyzers_metric_extensions(generated):
    analyzer = generated.copy()
    analyzer.compute("template_metrics", metric_names=["peak_to_trough_duration", "half_width"])
    analyzer.compute("spiketrain_metrics", metric_names=["firing_rate"])
    ext = analyzer.compute("nemo_embeddings", model=_model(11), features="nemo+metrics")
    table = analyzer.get_extension("template_metrics").get_data()
    assert ext.get_data("feature_names")[NEMO_DIM:] == [*table.columns, "firing_rate"]
    np.testing.assert_array_equal(ext.get_data("metrics")[:, :-1], table.to_numpy(dtype=float))
    ids = analyzer.unit_ids
    merged = analyzer.merge_units([[ids[0], ids[1]]], new_id_strategy="append")
    got = merged.get_extension("nemo_embeddings")
    merged_table = merged.get_extension("template_metrics").get_data().loc[merged.unit_ids]
    np.testing.assert_array_equal(got.get_data("metrics")[:, :-1], merged_table.to_numpy(dtype=float))
    rates = merged.get_extension("spiketrain_metrics").get_data().loc[merged.unit_ids, "firing_rate"]
    np.testing.assert_allclose(got.get_data("metrics")[:, -1], rates)


@pytest.mark.parametrize("fmt", ["binary_folder", "zarr"])
def test_features_nemo_plus_metrics_on_a_saved_sparse_analyzer(generated, tmp_path, fmt):
    sparse = si.create_sorting_analyzer(generated.sorting, generated.recording, sparse=True, format=fmt,
                                        folder=tmp_path / f"an.{fmt}")
    sparse.compute("random_spikes", seed=generated.get_extension("random_spikes").params["seed"])
    sparse.compute("templates", progress_bar=False)
    ext = sparse.compute("nemo_embeddings", model=_model(12), features="nemo+metrics")
    features, names = ext.get_data(), ext.get_data("feature_names")
    # the metric extensions are not attached: the folder reloads (SpikeInterface 0.105.3 cannot reload a
    # saved spiketrain_metrics) and holds the combined features with their names
    assert set(sparse.get_saved_extension_names()) == {"random_spikes", "templates", "nemo_embeddings"}
    reloaded = si.load_sorting_analyzer(tmp_path / f"an.{fmt}").get_extension("nemo_embeddings")
    np.testing.assert_array_equal(reloaded.get_data(), features)
    assert reloaded.get_data("feature_names") == names and len(names) == features.shape[1] > NEMO_DIM
