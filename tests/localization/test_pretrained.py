"""The shipped localizers (model="pretrained"): their record, the layout check, and the no-training paths."""

import numpy as np
import pytest
from spikeinterface.core import NumpyRecording, NumpySorting, create_sorting_analyzer, load_sorting_analyzer
from spikeinterface.core.node_pipeline import base_peak_dtype
from spikeinterface.sortingcomponents.peak_localization import localize_peaks

import si_amortized.localization.extraction as extraction
from si_amortized.localization import load_localizer, pretrained_files, pretrained_localizer
from si_amortized.localization.calibration import gaussian_coverage

from .toy import grid_positions, make_toy_recording

FS_MEAREC = 32_000.0


def _at_32khz(positions, num_units=4, spikes_per_unit=20):
    """A toy recording re-stamped at MEArec's 32 kHz (the shipped localizers' sampling frequency)."""
    rec, sorting, sources, units = make_toy_recording(positions=positions, num_units=num_units,
                                                      spikes_per_unit=spikes_per_unit, noise_uv=5.0, seed=3)
    recording = NumpyRecording([rec.get_traces()], sampling_frequency=FS_MEAREC)
    recording.set_probe(rec.get_probe())
    spikes = sorting.to_spike_vector()
    sorting = NumpySorting.from_samples_and_labels([spikes["sample_index"]], [spikes["unit_index"]], FS_MEAREC)
    return recording, sorting, sources


@pytest.fixture()
def no_training(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("a pretrained localizer must not train")

    monkeypatch.setattr(extraction, "train_localizer", refuse)


def test_every_shipped_localizer_records_its_corpus_and_calibration():
    files = pretrained_files()
    assert files, "no localizer shipped"
    for path in files:
        model = load_localizer(path)
        meta = model.metadata
        assert meta["training"] == "simulated"
        corpus = meta["training_corpus"]
        assert corpus["template_seed"] != 0 and 0 in corpus["excluded_template_seeds"]
        assert corpus["num_templates"] >= 100 and len(corpus["cell_models"]) == 13
        coverage = np.asarray(meta["calibration"]["coverage_after"])
        np.testing.assert_allclose(coverage[0, :2], gaussian_coverage(1.0), atol=0.05)
        # then calibrated on MEArec recordings (factor and floor): 68 % / 95 % on those spikes
        on_recordings = meta["recording_calibration"]
        assert on_recordings["num_spikes"] > 10_000 and len(on_recordings["recordings"]) >= 1
        coverage = np.asarray(on_recordings["coverage_after"])
        np.testing.assert_allclose(coverage[0], gaussian_coverage(1.0), atol=0.01)
        np.testing.assert_allclose(coverage[1], gaussian_coverage(2.0), atol=0.06)
        np.testing.assert_allclose(model.posterior_std_scale.numpy(), on_recordings["std_scale"], rtol=1e-4)
        np.testing.assert_allclose(model.posterior_std_floor.numpy(), on_recordings["std_floor_um"], atol=1e-3)
        assert path.stat().st_size < 3e6


def test_pretrained_fits_a_15um_grid_at_32khz_and_refuses_other_layouts(no_training):
    recording, _, _ = _at_32khz(grid_positions(6, 6, 15.0))
    model = pretrained_localizer(recording)
    assert model.metadata["training_corpus"]["probe"] == "SqMEA-10-15"
    other, _, _ = _at_32khz(grid_positions(6, 6, 30.0))
    with pytest.raises(ValueError, match="No pretrained VAE localizer fits") as info:
        pretrained_localizer(other)
    assert "vae_SqMEA-10-15" in str(info.value)
    # another rate within a factor of 2 (Neuropixels' 30 kHz) fits: waveforms are resampled to 32 kHz
    at_30khz = NumpyRecording([recording.get_traces()], sampling_frequency=30_000.0)
    at_30khz.set_probe(recording.get_probe())
    assert pretrained_localizer(at_30khz).metadata["sampling_frequency"] == FS_MEAREC
    too_slow = NumpyRecording([recording.get_traces()], sampling_frequency=10_000.0)
    too_slow.set_probe(recording.get_probe())
    with pytest.raises(ValueError, match="trained at 32000 Hz; this recording is sampled at 10000 Hz"):
        pretrained_localizer(too_slow)


def test_the_shipped_file_is_read_once_and_every_caller_gets_its_own_copy(no_training, monkeypatch):
    import torch

    import si_amortized.localization.pretrained as pretrained

    recording, _, _ = _at_32khz(grid_positions(6, 6, 15.0))
    pretrained._loaded.cache_clear()
    reads = []
    real_load = pretrained.load_localizer
    monkeypatch.setattr(pretrained, "load_localizer", lambda path: reads.append(path) or real_load(path))
    first = pretrained_localizer(recording)
    with torch.no_grad():
        next(first.parameters()).add_(1.0)  # a caller changing its model ...
    second = pretrained_localizer(recording)
    assert len(reads) == len(set(reads)) and len(reads) <= len(pretrained_files())
    fresh = load_localizer(pretrained.pretrained_localizer_file(recording))
    for mine, shipped in zip(second.state_dict().values(), fresh.state_dict().values()):  # ... changes no other's
        torch.testing.assert_close(mine, shipped, rtol=0, atol=0)
    assert second is not first and second.metadata == fresh.metadata


def test_a_30khz_recording_is_localized_as_its_32khz_twin(no_training):
    """The same units recorded at 30 and 32 kHz (MEArec's rate, the model's) are placed at the same spots."""
    from probeinterface import generate_multi_columns_probe
    from spikeinterface.core import generate_ground_truth_recording

    probe = generate_multi_columns_probe(num_columns=6, num_contact_per_column=6, xpitch=15.0, ypitch=15.0)
    probe.set_device_channel_indices(np.arange(36))
    medians = {}
    for fs in (32_000.0, 30_000.0):
        recording, sorting = generate_ground_truth_recording(
            durations=[3.0], sampling_frequency=fs, num_units=5, probe=probe, seed=7,
            noise_kwargs=dict(noise_levels=1.0, strategy="on_the_fly"),
        )
        analyzer = create_sorting_analyzer(sorting, recording, sparse=False)
        analyzer.compute("random_spikes", max_spikes_per_unit=30, seed=0)
        loc = analyzer.compute("vae_locations", model="pretrained").get_data()
        labels = sorting.to_spike_vector()["unit_index"]
        medians[fs] = np.array([[np.median(loc[k][labels == u]) for k in "xy"] for u in range(5)])
    assert np.ptp(medians[32_000.0][:, 0]) + np.ptp(medians[32_000.0][:, 1]) > 10.0  # units spread out
    np.testing.assert_allclose(medians[30_000.0], medians[32_000.0], atol=2.0)


def test_extension_with_the_pretrained_model_stores_and_recomputes_it(no_training, tmp_path):
    recording, sorting, sources = _at_32khz(grid_positions(6, 6, 15.0))
    recording = recording.save(folder=tmp_path / "rec", progress_bar=False)  # reloadable with the analyzer
    analyzer = create_sorting_analyzer(sorting, recording, sparse=False, format="binary_folder",
                                       folder=tmp_path / "an")
    ext = analyzer.compute("vae_locations", model="pretrained")
    digest = ext.params["model"]
    assert digest.startswith("sha256:")
    loc = ext.get_data()
    assert np.isfinite(loc["x"]).all() and np.isfinite(loc["x_std"]).all()
    error = np.hypot(loc["x"] - sources[:, 0], loc["y"] - sources[:, 1])
    assert np.median(error) < 20.0  # toy point sources are not MEArec cells; the model still places them nearby
    reloaded = load_sorting_analyzer(tmp_path / "an")
    again = reloaded.compute("vae_locations", **reloaded.get_extension("vae_locations").params).get_data()
    np.testing.assert_allclose(again["x"], loc["x"], atol=1e-4)
    peaks = np.zeros(20, dtype=base_peak_dtype)
    spikes = sorting.to_spike_vector()[:20]
    peaks["sample_index"] = spikes["sample_index"]
    peaks["channel_index"] = analyzer.get_main_channels(outputs="index")[spikes["unit_index"]]
    out = localize_peaks(recording, peaks, method="vae", method_kwargs={"model": "pretrained"},
                         job_kwargs=dict(n_jobs=1, progress_bar=False))
    np.testing.assert_allclose(out["x"], loc["x"][:20], atol=1e-3)


def test_auto_is_the_shipped_localizer_where_one_fits(no_training):
    recording, sorting, _ = _at_32khz(grid_positions(6, 6, 15.0))
    analyzer = create_sorting_analyzer(sorting, recording, sparse=False)
    pretrained = analyzer.compute("vae_locations", model="pretrained", save=False)
    auto = analyzer.compute("vae_locations", model="auto", save=False)
    assert auto.params["model"] == pretrained.params["model"]  # the same shipped file, by digest
    np.testing.assert_array_equal(auto.get_data()["x"], pretrained.get_data()["x"])
    peaks = np.zeros(20, dtype=base_peak_dtype)
    spikes = sorting.to_spike_vector()[:20]
    peaks["sample_index"] = spikes["sample_index"]
    peaks["channel_index"] = analyzer.get_main_channels(outputs="index")[spikes["unit_index"]]
    job = dict(n_jobs=1, progress_bar=False)
    by_name = {m: localize_peaks(recording, peaks, method="vae", method_kwargs={"model": m}, job_kwargs=job)
               for m in ("auto", "pretrained")}
    np.testing.assert_array_equal(by_name["auto"]["x"], by_name["pretrained"]["x"])


def test_auto_trains_where_none_fits():
    from si_amortized.localization.pretrained import resolve_auto

    recording, sorting, _ = _at_32khz(grid_positions(6, 6, 30.0))  # no shipped localizer has a 30 um pitch
    assert resolve_auto("auto", recording) is None
    assert resolve_auto("pretrained", recording) == "pretrained"  # other values pass through
    analyzer = create_sorting_analyzer(sorting, recording, sparse=False)
    ext = analyzer.compute("vae_locations", model="auto", epochs=1, save=False)
    meta = ext.get_model().metadata
    assert "training" not in meta and meta["num_training_spikes"] == sorting.to_spike_vector().size  # its spikes
    assert np.isfinite(ext.get_data()["x"]).all()
