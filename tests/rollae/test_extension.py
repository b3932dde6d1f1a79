"""The ``well_embeddings`` extension: round trips, select, plates, saved model paths, results of earlier versions."""

import numpy as np
import pandas as pd
import pytest
from spikeinterface.core import load_sorting_analyzer

import si_amortized  # noqa: F401  (registers the extension)
from si_amortized.rollae import compute_plate_embeddings, embed_wells, plate_neural_metrics


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
