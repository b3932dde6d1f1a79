"""MEArec ground truth: simulation, loading with GT properties, bad input."""

import h5py
import numpy as np
import pytest

from si_amortized.datasets import cell_type_from_mtype, load_mearec, load_template_library, simulate_recording


def test_load_mearec_ground_truth_matches_file(mearec_small, mearec_small_path):
    recording, sorting = mearec_small
    assert sorting.get_num_units() == 10
    with h5py.File(mearec_small_path, "r") as f:
        soma = np.array([f[f"spiketrains/{i}/annotations/soma_position"][()] for i in range(10)])
        mtypes = [f[f"spiketrains/{i}/annotations/mtype"][()] for i in range(10)]
        mtypes = [m.decode() if isinstance(m, bytes) else str(m) for m in mtypes]
    gt = sorting.get_property("gt_unit_locations")
    # SpikeInterface axes: x, y in the probe plane; z = MEArec's x, the distance from the plane
    np.testing.assert_allclose(gt, soma[:, [1, 2, 0]])
    assert list(sorting.get_property("mtype")) == ["_".join(m.split("_")[:2]) for m in mtypes]
    cell_types = sorting.get_property("cell_type")
    assert sorted(cell_types) == ["E"] * 8 + ["I"] * 2
    assert all(cell_type_from_mtype(m) == c for m, c in zip(sorting.get_property("mtype"), cell_types))
    assert np.all(np.isfinite(sorting.get_property("snr")))
    rates = sorting.count_num_spikes_per_unit(outputs="array") / recording.get_total_duration()
    np.testing.assert_allclose(sorting.get_property("firing_rate"), rates)
    assert np.all(sorting.get_property("target_firing_rate") > 0)


def test_gt_locations_sit_over_the_largest_channel(mearec_small):
    """The axis convention, checked against the data: each soma's (x, y) is near its peak channel."""
    import spikeinterface.core as si

    recording, sorting = mearec_small
    analyzer = si.create_sorting_analyzer(sorting, recording, sparse=False)
    analyzer.compute(["random_spikes", "templates"])
    templates = analyzer.get_extension("templates").get_data()
    peak_channels = np.argmax(np.abs(templates).max(axis=1), axis=1)
    positions = recording.get_channel_locations()
    gt = sorting.get_property("gt_unit_locations")
    distances = np.linalg.norm(positions[peak_channels] - gt[:, :2], axis=1)
    # MEArec somas may sit outside the array (overhang): compare with the nearest contact
    nearest = np.min(np.linalg.norm(positions[None] - gt[:, None, :2], axis=2), axis=1)
    assert np.median(distances - nearest) < 15.0
    swapped = np.linalg.norm(positions[peak_channels] - gt[:, [1, 0]], axis=1)
    assert np.median(distances) < np.median(swapped) or np.allclose(gt[:, 0], gt[:, 1], atol=15)


def test_simulation_is_reproducible(tmp_path):
    kwargs = dict(n_exc=3, n_inh=1, duration=2.0, seed=7)
    a = simulate_recording(output=tmp_path / "a.h5", **kwargs)
    b = simulate_recording(output=tmp_path / "b.h5", **kwargs)
    c = simulate_recording(output=tmp_path / "c.h5", **{**kwargs, "seed": 8})
    (ra, sa), (rb, sb), (rc, _) = load_mearec(a), load_mearec(b), load_mearec(c)
    np.testing.assert_array_equal(ra.get_traces(end_frame=5000), rb.get_traces(end_frame=5000))
    for u in sa.unit_ids:
        np.testing.assert_array_equal(sa.get_unit_spike_train(u), sb.get_unit_spike_train(u))
    assert not np.array_equal(ra.get_traces(end_frame=5000), rc.get_traces(end_frame=5000))


def test_user_spike_trains_and_cell_models(tmp_path):
    rng = np.random.default_rng(0)
    cell_models = ["L5_NBC", "L5_TTPC1", "L5_MC"]  # an inhibitory cell first: MEArec reorders E first
    trains = [np.sort(rng.uniform(0.01, 1.99, size=n)) for n in (40, 10, 20)]
    path = simulate_recording(spike_trains=trains, cell_models=cell_models, duration=2.0, output=tmp_path / "u.h5")
    recording, sorting = load_mearec(path)
    index = sorting.get_property("input_index")
    assert sorted(index) == [0, 1, 2]
    fs = recording.sampling_frequency
    for unit_id, i in zip(sorting.unit_ids, index):
        assert sorting.get_property("mtype")[list(sorting.unit_ids).index(unit_id)] == cell_models[i]
        np.testing.assert_allclose(sorting.get_unit_spike_train(unit_id) / fs, trains[i], atol=1.5 / fs)


# ---- bad input ----------------------------------------------------------------------------------

def test_unknown_probe_names_close_matches():
    with pytest.raises(ValueError, match="Did you mean 'SqMEA-10-15'"):
        simulate_recording("SqMEA-10-16")
    with pytest.raises(ValueError, match="simulate_templates"):
        load_template_library("Neuropixels-128")


def test_missing_path_and_non_mearec_h5(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mearec(tmp_path / "nope.h5")
    other = tmp_path / "other.h5"
    with h5py.File(other, "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(ValueError, match="not a MEArec recording"):
        load_mearec(other)
    text = tmp_path / "text.h5"
    text.write_text("hello")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        load_mearec(text)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(n_exc=0, n_inh=0), "n_exc"),
        (dict(n_exc=-1), "n_exc"),
        (dict(n_inh=2.5), "n_inh"),
        (dict(duration=-5.0), "duration"),
        (dict(duration=0.0), "duration"),
        (dict(duration=float("nan")), "duration"),
        (dict(noise_level=-1.0), "noise_level"),
        (dict(min_amp=500.0, max_amp=40.0), "min_amp"),
        (dict(min_dist=-1.0), "min_dist"),
        (dict(f_exc=0.0), "f_exc"),
        (dict(seed=-1), "seed"),
        (dict(sampling_frequency=0.0), "sampling_frequency"),
        (dict(dtype="no-such-dtype"), "dtype"),
        (dict(spike_trains=[np.array([0.1])], cell_models=["L5_MC", "L5_NBC"]), "cell_models"),
        (dict(spike_trains=[], cell_models=[]), "spike_trains"),
        (dict(spike_trains=[np.array([0.1, 3.0])], cell_models=["L5_MC"], duration=2.0), r"spike_trains\[0\]"),
    ],
)
def test_bad_simulation_inputs_fail_before_simulating(monkeypatch, tmp_path, kwargs, name):
    """ValueError naming the parameter, raised before MEArec is called (it would fail deep inside or run)."""
    import MEArec

    def no_simulation(*args, **kw):
        raise AssertionError("the simulation started")

    monkeypatch.setattr(MEArec, "gen_recordings", no_simulation)
    with pytest.raises(ValueError, match=name):
        simulate_recording(output=tmp_path / "bad.h5", **kwargs)
    assert list(tmp_path.iterdir()) == []


def _fake_save(fail: BaseException | None):
    """A stand-in for ``MEArec.save_recording_generator``: writes a file, then raises ``fail`` (if any)."""

    def save(recgen, filename, **kwargs):
        with open(filename, "wb") as f:
            f.write(b"\0" * 4096)
        if fail is not None:
            raise fail

    return save


@pytest.mark.parametrize("fail", [RuntimeError("disk full"), KeyboardInterrupt()])
def test_failed_simulation_leaves_no_partial_file(monkeypatch, tmp_path, fail):
    import MEArec

    monkeypatch.setattr(MEArec, "gen_recordings", lambda **kwargs: object())
    monkeypatch.setattr(MEArec, "save_recording_generator", _fake_save(fail))
    with pytest.raises(type(fail)):
        simulate_recording(n_exc=1, n_inh=1, duration=1.0, output=tmp_path / "rec.h5")
    assert list(tmp_path.iterdir()) == []


def test_successful_save_is_renamed_from_the_partial_file(monkeypatch, tmp_path):
    import MEArec

    monkeypatch.setattr(MEArec, "gen_recordings", lambda **kwargs: object())
    monkeypatch.setattr(MEArec, "save_recording_generator", _fake_save(None))
    path = simulate_recording(n_exc=1, n_inh=1, duration=1.0, output=tmp_path / "rec.h5")
    assert path == tmp_path / "rec.h5"
    assert [p.name for p in tmp_path.iterdir()] == ["rec.h5"]
