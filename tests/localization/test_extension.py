"""SortingAnalyzer integration: vae_locations, spike_locations(method="vae"), localize_peaks(method="vae")."""

import warnings

import numpy as np
import pytest

import si_amortized  # noqa: F401  (registers the extension and the "vae" method)
from spikeinterface.core import create_sorting_analyzer, load_sorting_analyzer
from spikeinterface.sortingcomponents.peak_localization import localize_peaks

from si_amortized.localization import ComputeVaeLocations, compute_vae_locations, load_localizer, save_localizer

from .toy import FAST, grid_positions, make_toy_recording

FIELDS = ("x", "y", "z", "x_std", "y_std", "z_std", "fallback")


@pytest.fixture(scope="module")
def analyzer(toy):
    recording, sorting, _, _ = toy
    return create_sorting_analyzer(sorting, recording, sparse=False, format="memory")


@pytest.fixture(scope="module")
def computed(analyzer, toy_model):
    ext = analyzer.compute("vae_locations", model=toy_model, n_jobs=1, chunk_duration="1s", progress_bar=False)
    return ext.get_data()


def test_output_fields_and_accuracy(computed, toy):
    _, _, sources, _ = toy
    assert computed.dtype.names == FIELDS
    assert np.all(np.isfinite(computed["x"])) and np.all(computed["z"] >= 0)
    assert np.all(computed["x_std"] > 0)
    err = np.hypot(computed["x"] - sources[:, 0], computed["y"] - sources[:, 1])
    assert np.median(err) < 4.0, np.median(err)


def test_invariance_to_n_jobs_and_chunking(analyzer, toy_model, computed):
    for job_kwargs in (dict(n_jobs=2, chunk_duration="0.37s"), dict(n_jobs=1, chunk_duration="3s"),
                       dict(n_jobs=2, chunk_duration="0.37s", pool_engine="thread")):  # threads share one model
        ext = analyzer.compute("vae_locations", model=toy_model, progress_bar=False, save=False, **job_kwargs)
        other = ext.get_data()
        for name in FIELDS:
            np.testing.assert_allclose(other[name], computed[name], atol=1e-3, rtol=1e-5)


def test_training_inside_the_extension_is_seeded(toy):
    recording, sorting, _, _ = toy
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    kw = dict(FAST, epochs=1, max_spikes=300)
    a = an.compute("vae_locations", save=False, **kw).get_data()
    model_a = an.get_extension("vae_locations").get_model()
    b = compute_vae_locations(an, **kw)  # function alias returns the data
    np.testing.assert_array_equal(a, b)
    c = an.compute("vae_locations", **dict(kw, seed=1)).get_data()
    assert not np.array_equal(a["x"], c["x"])
    assert model_a.metadata["num_training_spikes"] == 300


@pytest.mark.parametrize("fmt", ["binary_folder", "zarr"])
def test_save_reload_select_merge_split(toy, toy_model, tmp_path, fmt):
    recording, sorting, _, _ = toy
    folder = tmp_path / f"an.{'zarr' if fmt == 'zarr' else 'd'}"
    an = create_sorting_analyzer(sorting, recording, sparse=False, format=fmt, folder=folder)
    data = an.compute("vae_locations", model=toy_model).get_data()
    loaded = load_sorting_analyzer(folder)
    ext = loaded.get_extension("vae_locations")
    np.testing.assert_array_equal(ext.get_data(), data)
    assert isinstance(ext, ComputeVaeLocations)
    # the trained model is stored with the extension and gives the same locations
    reloaded_model = ext.get_model()
    wf = np.random.default_rng(0).normal(size=(3, toy_model.num_slots, toy_model.num_samples)).astype("float32")
    import torch

    args = (torch.tensor(wf), torch.ones(3, toy_model.num_slots), torch.rand(3, toy_model.num_slots) * 100)
    torch.testing.assert_close(reloaded_model(*args), toy_model.eval()(*args))
    if fmt == "binary_folder":
        assert (folder / "extensions" / "vae_locations" / "model_info.json").is_file()
        torch.testing.assert_close(load_localizer(folder)(*args), toy_model(*args))
    by_unit = ext.get_data(outputs="by_unit")
    units = loaded.unit_ids
    spikes = loaded.sorting.to_spike_vector()
    # select
    keep = units[:3]
    sub = loaded.select_units(keep)
    sel = sub.get_extension("vae_locations").get_data()
    np.testing.assert_array_equal(sel, data[np.isin(spikes["unit_index"], [0, 1, 2])])
    assert "model_weights" in sub.get_extension("vae_locations").data
    # merge
    merged = loaded.merge_units([[units[0], units[1]]])
    mdata = merged.get_extension("vae_locations").get_data()
    assert mdata.size == data.size
    assert np.array_equal(np.sort(mdata["x"]), np.sort(data["x"]))
    # split
    idx = np.flatnonzero(spikes["unit_index"] == 2)
    split = loaded.split_units({units[2]: [np.arange(idx.size // 2), np.arange(idx.size // 2, idx.size)]})
    sdata = split.get_extension("vae_locations").get_data()
    np.testing.assert_array_equal(np.sort(sdata["y"]), np.sort(data["y"]))
    np.testing.assert_array_equal(by_unit[0][units[0]], data[spikes["unit_index"] == 0])


def test_combined_with_spike_locations(toy, toy_model):
    recording, sorting, _, _ = toy
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    an.compute(["random_spikes", "templates"])
    alone = an.compute("vae_locations", model=toy_model).get_data()
    # one combined node pipeline: SpikeInterface does not call our _run
    an.compute({"spike_locations": {}, "vae_locations": {"model": toy_model}})
    np.testing.assert_allclose(an.get_extension("vae_locations").get_data()["x"], alone["x"], atol=1e-4)
    assert an.get_extension("spike_locations").get_data().size == alone.size
    # training also happens in the combined pipeline (when the parameters are set)
    an.compute(["spike_locations", "vae_locations"], extension_params={"vae_locations": dict(FAST, epochs=1, max_spikes=200)})
    assert "model_weights" in an.get_extension("vae_locations").data
    assert np.all(np.isfinite(an.get_extension("vae_locations").get_data()["x"]))


def test_model_reuse_path_and_layout_check(toy, toy_model, tmp_path):
    recording, sorting, sources, _ = toy
    path = save_localizer(toy_model, tmp_path / "vae.pt")
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    by_path = an.compute("vae_locations", model=str(path)).get_data()
    # the params name the model by its digest, whatever the source
    digest = an.get_extension("vae_locations").params["model"]
    assert digest.startswith("sha256:")
    by_obj = an.compute("vae_locations", model=toy_model).get_data()
    np.testing.assert_array_equal(by_path, by_obj)
    assert an.get_extension("vae_locations").params["model"] == digest
    with pytest.raises(ValueError, match="differ from those the given model"):
        an.compute("vae_locations", model=toy_model, half_width_um=20.0)
    # another probe layout (30 um pitch) is refused with a clear error
    rec2, sort2, _, _ = make_toy_recording(positions=grid_positions(6, 6, 30.0), num_units=2, spikes_per_unit=5)
    an2 = create_sorting_analyzer(sort2, rec2, sparse=False, format="memory")
    with pytest.raises(ValueError, match="probe layout differs"):
        an2.compute("vae_locations", model=toy_model)


def test_spike_locations_and_localize_peaks_method(toy, toy_model, toy_peaks, computed):
    recording, sorting, sources, _ = toy
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    an.compute(["random_spikes", "templates"])
    locs = an.compute("spike_locations", method="vae", method_kwargs={"model": toy_model}).get_data()
    np.testing.assert_allclose(locs["x"], computed["x"], atol=1e-3)
    peaks = np.zeros(toy_peaks.size, dtype=[("sample_index", "int64"), ("channel_index", "int64"),
                                             ("amplitude", "float64"), ("segment_index", "int64")])
    for name in ("sample_index", "channel_index", "segment_index"):
        peaks[name] = toy_peaks[name]
    out = localize_peaks(recording, peaks, method="vae", method_kwargs={"model": toy_model},
                         job_kwargs=dict(n_jobs=1, chunk_duration="1s", progress_bar=False))
    err = np.hypot(out["x"] - sources[:, 0], out["y"] - sources[:, 1])
    assert np.median(err) < 4.0
    # training from the detected peaks themselves (before any sorting)
    trained = localize_peaks(recording, peaks, method="vae", method_kwargs=dict(FAST, epochs=1, max_spikes=300),
                             job_kwargs=dict(n_jobs=1, progress_bar=False))
    assert trained.dtype.names == FIELDS and np.isfinite(trained["x"]).all()


def test_refinement_moves_towards_the_sources_is_stored_and_ignores_n_jobs(analyzer, toy_model, computed, toy):
    _, _, sources, _ = toy
    job = dict(progress_bar=False, save=False)
    ext = analyzer.compute("vae_locations", model=toy_model, refine_steps=5, n_jobs=1, chunk_duration="1s", **job)
    refined = ext.get_data()
    assert ext.params["feature_config"]["refine_steps"] == 5
    error = {name: np.hypot(data["x"] - sources[:, 0], data["y"] - sources[:, 1])
             for name, data in (("encoder", computed), ("refined", refined))}
    # the toy's spikes follow the decoder's own amplitude model: the posterior mode is closer than the encoder
    assert np.median(error["refined"]) < 0.8 * np.median(error["encoder"]), {k: np.median(v) for k, v in error.items()}
    np.testing.assert_array_equal(refined["x_std"], computed["x_std"])  # the posterior's width stays the encoder's
    other = analyzer.compute("vae_locations", model=toy_model, refine_steps=5, n_jobs=2, chunk_duration="0.37s",
                             **job).get_data()
    for name in FIELDS:
        np.testing.assert_allclose(other[name], refined[name], atol=1e-3, rtol=1e-5)


def test_cuda_lost_in_forked_workers_is_said_in_the_parent(analyzer, toy_model, monkeypatch):
    """Workers' warnings do not reach the user: the parent says when forked workers will run on the CPU."""
    import si_amortized.localization.extension as extension

    seen = []

    def lose(device, n_jobs, pool_engine, mp_context):
        seen.append((device, n_jobs, pool_engine))
        return n_jobs > 1

    monkeypatch.setattr(extension, "forked_workers_lose_cuda", lose)
    job = dict(chunk_duration="1s", progress_bar=False)
    with pytest.warns(UserWarning, match="forked workers cannot start it again.*n_jobs=1"):
        analyzer.compute("vae_locations", model=toy_model, n_jobs=2, **job)
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        analyzer.compute("vae_locations", model=toy_model, n_jobs=1, **job)
    assert seen == [(None, 2, "process"), (None, 1, "process")]


def test_reloaded_params_of_an_earlier_release_still_build_the_pipeline(toy, toy_model, tmp_path):
    """Params stored before an inference setting existed (here the refinement's) prepare the stored model."""
    recording, sorting, _, _ = toy
    folder = tmp_path / "an.d"
    an = create_sorting_analyzer(sorting, recording, sparse=False, format="binary_folder", folder=folder)
    data = an.compute("vae_locations", model=toy_model, progress_bar=False).get_data()
    loaded = load_sorting_analyzer(folder)  # held: the extension keeps only a weak reference
    loaded.set_temporary_recording(recording)  # the toy recording lives in memory only
    ext = loaded.get_extension("vae_locations")
    for name in ("refine_steps", "refine_amplitude_model"):
        ext.params["feature_config"].pop(name)
    ext.run(progress_bar=False)  # the reloaded path: the stored model, prepared for this recording
    np.testing.assert_array_equal(ext.get_data(), data)
