"""MEArec wells: a synthetic binary well -> an 8-electrode 3-2-3 MEArec recording -> detected peaks per electrode."""

import numpy as np
import pytest

from si_amortized.datasets import (
    WELL_PROBE_NAME,
    load_mearec,
    load_template_library,
    select_well_templates,
    simulate_well_recording,
    turn_grid_templates,
    well_323_positions,
    well_spike_times,
)
from si_amortized.rollae import (
    SyntheticParams,
    axion_323_positions,
    bin_spike_times,
    layout_symmetries,
    simulate_wells,
    well_spike_trains,
)

BIN_WIDTH_S = 0.05
N_BINS = 40  # a 2 s recording
WELL_SEED = 5  # its neurons: one excitatory (electrode 5) among interneurons, so MEArec's E-first order differs


@pytest.fixture(scope="module")
def binary_well():
    """One busy well (high sporadic and burst rates, cycles, network bursts), shape (8, 40)."""
    params = SyntheticParams(beta_s=0.1, beta_b=0.025, beta_c=True, beta_n=True)
    well = simulate_wells(params, 1, n_bins=N_BINS, seed=3)[0]
    assert 20 <= well.sum() <= 8 * N_BINS - 20  # active and silent bins on the same electrodes
    return well


@pytest.fixture(scope="module")
def well_recording_path(binary_well, tmp_path_factory):
    return simulate_well_recording(
        binary_well, BIN_WIDTH_S, noise_level=10.0, seed=WELL_SEED, output=tmp_path_factory.mktemp("wells") / "well.h5"
    )


@pytest.fixture(scope="module")
def well_gt(well_recording_path):
    return load_mearec(well_recording_path)


def test_well_positions_are_the_rollae_323_layout_with_four_symmetries():
    pos = well_323_positions(30.0)
    ref = axion_323_positions(30.0)
    np.testing.assert_allclose(pos, ref - ref.mean(axis=0))
    assert len(layout_symmetries(pos)) == 4


def test_spike_times_one_per_active_bin_and_refractory():
    rng = np.random.default_rng(0)
    well = (rng.random((8, 200)) < 0.5).astype(np.uint8)
    times = well_spike_times(well, 0.01, refractory_period_ms=4.0, seed=1)
    np.testing.assert_array_equal(bin_spike_times(times, 2.0, 0.01), well)
    for t in times:
        assert np.all(np.diff(t) >= 4e-3 - 1e-12)
        within = t / 0.01 - np.floor(t / 0.01)
        assert np.all((within >= 0.2 - 1e-9) & (within <= 0.8 + 1e-9))
    with pytest.raises(ValueError, match="refractory"):
        well_spike_times(well, 0.002, refractory_period_ms=2.0)
    with pytest.raises(ValueError, match="0/1"):
        well_spike_times(well * 2, 0.01)


def test_turning_the_grid_moves_each_soma_with_its_field():
    import MEAutility as mu

    library = load_template_library("SqMEA-10-15")
    contacts = mu.return_mea("SqMEA-10-15").positions[:, 1:]  # MEArec (y, z)

    def soma_to_field_centre(lib):
        # amplitude-weighted centre of the negative peaks on the contacts, relative to the soma
        amp = -lib.templates.min(axis=2)
        centre = (amp @ contacts) / amp.sum(axis=1, keepdims=True)
        return centre - lib.locations[:, 1:]

    base = soma_to_field_centre(library)
    for k in (1, 2, 3):
        offset = soma_to_field_centre(turn_grid_templates(library, k))
        # the field turns with the soma: its offset from the soma is the original one turned k times
        expected = base.copy()
        for _ in range(k):
            expected = np.column_stack([-expected[:, 1], expected[:, 0]])
        np.testing.assert_allclose(offset, expected, atol=1e-4)  # um; float32 sums
    again = turn_grid_templates(library, 4)
    np.testing.assert_array_equal(again.templates, library.templates)


def test_selected_neurons_sit_at_their_electrodes_on_sqmea_contacts():
    import MEAutility as mu

    library = load_template_library("SqMEA-10-15")
    contacts = mu.return_mea("SqMEA-10-15").positions[:, 1:]
    wt = select_well_templates(library, seed=5)
    pos = well_323_positions(30.0)
    assert wt.templates.shape == (8, 8, library.templates.shape[2])
    assert len(np.unique(wt.source_templates)) == 8
    amp = -wt.templates.min(axis=2)  # (neuron, electrode)
    np.testing.assert_array_equal(amp.argmax(axis=1), np.arange(8))
    assert np.all(np.diag(amp) >= 50) and np.all(np.diag(amp) <= 300)
    off_diagonal = amp[~np.eye(8, dtype=bool)].reshape(8, 7)
    assert np.all(off_diagonal <= 20.0) and np.all(off_diagonal <= 0.35 * np.diag(amp)[:, None])
    assert np.all(np.linalg.norm(wt.locations[:, 1:] - pos, axis=1) <= 20.0)
    for e in range(8):
        turned = turn_grid_templates(library, wt.in_plane_turns[e])
        t = wt.source_templates[e]
        src = contacts[wt.source_channels[e]]
        # the source contacts form the well, translated: same contact-to-soma vectors
        np.testing.assert_allclose(src - turned.locations[t, 1:], pos - wt.locations[e, 1:], atol=1e-6)
        np.testing.assert_array_equal(wt.templates[e], turned.templates[t][wt.source_channels[e]])
        assert wt.locations[e, 0] == pytest.approx(library.locations[t, 0])


def test_ground_truth_spike_trains_reproduce_the_binary_well(binary_well, well_gt):
    recording, sorting = well_gt
    assert recording.get_num_channels() == 8 and sorting.get_num_units() == 8
    fs = recording.get_sampling_frequency()
    assert recording.get_num_samples() == int(round(N_BINS * BIN_WIDTH_S * fs))
    electrodes = sorting.get_property("input_index")
    assert sorted(electrodes) == list(range(8))
    counts = np.zeros((8, N_BINS))
    for unit, e in zip(sorting.unit_ids, electrodes):
        times = sorting.get_unit_spike_train(unit) / fs
        counts[e] = bin_spike_times([times], N_BINS * BIN_WIDTH_S, BIN_WIDTH_S)[0]
    # every active bin holds exactly one spike of its electrode's neuron, and no other bin does
    np.testing.assert_array_equal(counts, binary_well)


def test_recording_geometry_is_the_323_well(well_gt, well_recording_path):
    import h5py

    recording, sorting = well_gt
    locations = recording.get_channel_locations()
    np.testing.assert_allclose(locations, well_323_positions(30.0))
    assert recording.get_probe().model_name == WELL_PROBE_NAME
    perms = layout_symmetries(locations)
    assert len(perms) == 4
    # the somas stored by MEArec are those of the selected neurons, each next to its electrode
    electrodes = sorting.get_property("input_index")
    neurons = select_well_templates(seed=WELL_SEED)
    assert "E" in neurons.cell_types and neurons.cell_types[0] == "I"
    np.testing.assert_allclose(sorting.get_property("gt_unit_locations"), neurons.locations[electrodes][:, [1, 2, 0]])
    np.testing.assert_array_equal(sorting.get_property("cell_type"), neurons.cell_types[electrodes])
    soma_xy = sorting.get_property("gt_unit_locations")[:, :2]
    assert np.all(np.linalg.norm(soma_xy - locations[electrodes], axis=1) <= 20.0)
    with h5py.File(well_recording_path, "r") as f:
        assert f["info/electrodes/electrode_name"][()].decode() == WELL_PROBE_NAME


def test_detected_peaks_recover_the_active_bins(binary_well, well_gt):
    recording, _ = well_gt
    (well,) = well_spike_trains(recording, job_kwargs=dict(n_jobs=1, progress_bar=False))
    # the wells code orders electrodes by (y, x): the rows of the binary well
    np.testing.assert_allclose(well.positions, well_323_positions(30.0))
    detected = well.binned(BIN_WIDTH_S) > 0
    assert detected.shape == binary_well.shape
    active = binary_well.astype(bool)
    recall = (detected & active).sum() / active.sum()
    false_alarms = (detected & ~active).sum() / (~active).sum()
    assert recall >= 0.9, recall
    assert false_alarms <= 0.1, false_alarms
    # one peak per spike: the default 0.5 ms sweep counts each spike once, where a 0.1 ms sweep
    # finds a second trough on some of them (on this well: 2 vs 24 extra spikes out of 117)
    counts = well.binned(BIN_WIDTH_S)
    excess = np.clip(counts - binary_well, 0, None).sum()
    assert np.mean(counts == binary_well) >= 0.97
    assert excess <= 0.05 * binary_well.sum()
    (narrow,) = well_spike_trains(
        recording, detect_kwargs=dict(exclude_sweep_ms=0.1), job_kwargs=dict(n_jobs=1, progress_bar=False)
    )
    assert np.clip(narrow.binned(BIN_WIDTH_S) - binary_well, 0, None).sum() > excess
    # the same peaks on every call (seeded noise estimate), and user-given noise levels are used as they are
    (again,) = well_spike_trains(recording, job_kwargs=dict(n_jobs=1, progress_bar=False))
    np.testing.assert_array_equal(again.binned(BIN_WIDTH_S), counts)
    mad = np.median(np.abs(recording.get_traces()), axis=0) / 0.6744897501960817
    (given,) = well_spike_trains(
        recording, detect_kwargs=dict(noise_levels=mad.astype("float32")), job_kwargs=dict(n_jobs=1, progress_bar=False)
    )
    assert np.mean((given.binned(BIN_WIDTH_S) > 0) == active) >= 0.95


def test_cached_recording_is_reused(binary_well, tmp_path, monkeypatch):
    monkeypatch.setenv("SI_AMORTIZED_CACHE", str(tmp_path))
    first = simulate_well_recording(binary_well[:, :10], BIN_WIDTH_S, seed=2)
    assert first.parent == tmp_path / "well_recordings"
    stamp = first.stat().st_mtime_ns
    again = simulate_well_recording(binary_well[:, :10], BIN_WIDTH_S, seed=2)
    assert again == first and again.stat().st_mtime_ns == stamp
    other = simulate_well_recording(binary_well[:, :10], BIN_WIDTH_S, seed=3)
    assert other != first


def test_bad_inputs_name_the_problem(binary_well):
    with pytest.raises(ValueError, match="8"):
        simulate_well_recording(binary_well[:7], BIN_WIDTH_S)
    with pytest.raises(ValueError, match="multiple of 30"):
        select_well_templates(pitch_um=45.0)
    with pytest.raises(ValueError, match="electrode"):
        select_well_templates(min_amp=1000.0, max_amp=2000.0)
    with pytest.raises(ValueError, match="SqMEA-10-15"):
        select_well_templates(load_template_library("Neuropixels-64"))
