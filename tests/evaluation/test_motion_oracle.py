"""Oracle localization of detected peaks: each peak at its ground-truth cell's true position."""

import numpy as np
import pytest
from spikeinterface.core import NumpySorting

from si_amortized.evaluation.motion_oracle import oracle_peak_locations, oracle_scatter_um, true_spike_positions

FS = 10000.0


def _truth():
    """Two cells 100 um apart that drift 0 -> 10 um (cell 0) and 0 -> 20 um (cell 1) along y over 10 s."""
    times = np.arange(11)  # 1 Hz
    displacements = np.zeros((11, 2, 2))
    displacements[:, 0, 1] = times
    displacements[:, 1, 1] = 2 * times
    displacements[:, 1, 0] = -0.5 * times  # and cell 1 along x
    locations = np.array([[0.0, 0.0, 20.0], [16.0, 100.0, 30.0]])
    info = dict(unit_displacements=displacements, unit_locations=locations, displacement_sampling_frequency=1.0)
    samples = np.array([5000, 25000, 25010, 72500, 99000])  # 0.5, 2.5, 2.501, 7.25, 9.9 s
    labels = np.array([0, 1, 0, 1, 0])
    return NumpySorting.from_samples_and_labels([samples], [labels], FS), info, samples, labels


def _naive_position(info, sample, unit):
    t = sample / FS
    d = info["unit_displacements"]
    k = min(int(t), d.shape[0] - 2)
    w = t - k
    shift = d[k, unit] * (1 - w) + d[k + 1, unit] * w
    return info["unit_locations"][unit, :2] + shift


def test_true_spike_positions_interpolate_each_cells_drift_in_time():
    sorting, info, samples, labels = _truth()
    got_samples, x, y = true_spike_positions(sorting, info)
    order = np.argsort(samples, kind="stable")
    np.testing.assert_array_equal(got_samples, samples[order])
    want = np.array([_naive_position(info, s, u) for s, u in zip(samples[order], labels[order])])
    np.testing.assert_allclose(np.c_[x, y], want)


def test_each_peak_takes_the_nearest_cell_within_the_lag_and_noise_peaks_none():
    sorting, info, samples, labels = _truth()
    channels = np.array([[0.0, 0.0], [16.0, 100.0], [0.0, 400.0]])
    peaks = np.zeros(5, dtype=[("sample_index", "int64"), ("channel_index", "int64"), ("segment_index", "int64")])
    # cell 0 at 0.5 s; the pair at 2.5 s seen once on each cell's channel; a peak far from both cells; a lone one
    peaks["sample_index"] = [5003, 25004, 25006, 72500, 50000]
    peaks["channel_index"] = [0, 1, 0, 2, 0]
    locations, matched = oracle_peak_locations(peaks, channels, sorting, info, max_lag_ms=1.0, max_distance_um=60.0)
    np.testing.assert_array_equal(matched, [True, True, True, False, False])
    np.testing.assert_allclose(np.c_[locations["x"], locations["y"]][:3],
                               [_naive_position(info, 5000, 0), _naive_position(info, 25000, 1),
                                _naive_position(info, 25010, 0)])
    assert np.isnan(locations["y"][3:]).all()
    # the scatter is seeded Gaussian noise on matched peaks
    noisy, again = (oracle_peak_locations(peaks, channels, sorting, info, 1.0, 60.0, scatter_um=3.0, seed=7)[0]
                    for _ in range(2))
    np.testing.assert_array_equal(noisy["x"], again["x"])
    assert 0 < np.abs(noisy["y"][:3] - locations["y"][:3]).max() < 15
    with pytest.raises(ValueError, match="scatter"):
        oracle_peak_locations(peaks, channels, sorting, info, scatter_um=-1.0)


def test_oracle_method_names():
    assert oracle_scatter_um("oracle") == 0.0
    assert oracle_scatter_um("oracle+5") == 5.0
    assert oracle_scatter_um("oracle+2.5") == 2.5
    assert oracle_scatter_um("vae") is None and oracle_scatter_um("oracle5") is None


def test_a_sorting_of_other_units_is_refused():
    sorting, info, _, _ = _truth()
    info = dict(info, unit_displacements=info["unit_displacements"][:, :1])
    with pytest.raises(ValueError, match="units"):
        true_spike_positions(sorting, info)


@pytest.mark.slow
def test_the_benchmark_runs_the_oracle_on_correct_motions_peaks_and_it_follows_the_drift():
    from si_amortized.evaluation.motion import drift_scenarios, motion_errors, run_motion_benchmark

    result = run_motion_benchmark([drift_scenarios()["zigzag"]], methods=["center_of_mass", "oracle", "oracle+5"],
                                  duration=12.0, num_channels=32, num_units=8)
    table = result.table.set_index("method")
    info = result.infos["zigzag"]
    motion = result.motions["zigzag"]["oracle"]
    flat = motion.__class__([0.0 * d for d in motion.displacement], motion.temporal_bins_s, motion.spatial_bins_um)
    assert table.loc["oracle", "rms_um"] < 0.5 * motion_errors(flat, info)["rms_um"]  # 3.2 against 8.3 here
    # the matched peaks are those correct_motion detected (the same for every method), minus noise peaks
    assert 0.8 * table.loc["center_of_mass", "num_peaks"] < table.loc["oracle", "num_peaks"] <= \
        table.loc["center_of_mass", "num_peaks"]
    assert table.loc["oracle+5", "num_peaks"] == table.loc["oracle", "num_peaks"]
    assert table.loc["oracle+5", "rms_um"] != table.loc["oracle", "rms_um"]
