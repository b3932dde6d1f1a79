"""Motion benchmark scoring: ground truth at the estimate's bins, residual errors, table and figure."""

import numpy as np
import pandas as pd
import pytest
from spikeinterface.core.motion import Motion

from si_amortized.evaluation.motion import (
    DriftScenario,
    add_reference_ratios,
    drift_scenarios,
    format_motion_table,
    motion_errors,
    motion_residuals,
    plot_motion,
    step_bins,
    true_displacement_at,
)


def make_info(unit_dy, unit_depths, fs=5.0):
    """A generator-like ``info`` from per-unit y displacements (num_times, num_units) and depths (num_units,)."""
    unit_dy = np.asarray(unit_dy, dtype=float)
    unit_displacements = np.zeros(unit_dy.shape + (2,))
    unit_displacements[:, :, 1] = unit_dy
    locations = np.zeros((unit_dy.shape[1], 3))
    locations[:, 1] = unit_depths
    return dict(unit_displacements=unit_displacements, unit_locations=locations, displacement_sampling_frequency=fs)


def naive_linear_truth(a, b, fs, times, depths):
    """a(t) + b(t) * depth, with a and b interpolated in time by hand, one (time, depth) at a time."""
    out = np.zeros((len(times), len(depths)))
    for i, t in enumerate(times):
        k = min(int(np.floor(t * fs)), len(a) - 2)
        w = t * fs - k
        a_t = a[k] * (1 - w) + a[k + 1] * w
        b_t = b[k] * (1 - w) + b[k + 1] * w
        for j, z in enumerate(depths):
            out[i, j] = a_t + b_t * z
    return out


# --------------------------------------------------------------------------- true_displacement_at


def test_rigid_truth_is_the_same_at_every_depth_and_interpolated_in_time():
    dy = np.array([0.0, 2.0, 4.0, -6.0])  # sampled at 2 Hz from t = 0: t = 0, 0.5, 1.0, 1.5 s
    info = make_info(np.repeat(dy[:, None], 3, axis=1), unit_depths=[10.0, 200.0, 350.0], fs=2.0)
    truth = true_displacement_at(info, temporal_bins_s=[0.25, 1.0, 1.25], spatial_bins_um=[-50.0, 100.0, 900.0])
    expected = np.array([1.0, 4.0, -1.0])
    assert truth.shape == (3, 3)
    np.testing.assert_allclose(truth, np.repeat(expected[:, None], 3, axis=1))


def test_truth_is_clamped_outside_the_sampled_times():
    info = make_info(np.array([[1.0], [3.0]]), unit_depths=[0.0], fs=1.0)
    truth = true_displacement_at(info, [-2.0, 0.5, 9.0], [0.0])
    np.testing.assert_allclose(truth[:, 0], [1.0, 2.0, 3.0])


def test_nonrigid_linear_truth_matches_a_naive_reference_inside_and_beyond_the_units():
    rng = np.random.default_rng(0)
    fs, num_times = 5.0, 40
    a = rng.normal(0, 10, num_times)
    b = rng.normal(0, 0.05, num_times)
    depths = rng.uniform(0, 400, 12)
    info = make_info(a[:, None] + b[:, None] * depths[None, :], depths, fs)
    times = np.array([0.0, 0.13, 1.7, 3.33, 7.8])
    bins = np.array([-100.0, 0.0, 123.0, 399.0, 600.0])  # the ends lie beyond the units: linear extrapolation
    np.testing.assert_allclose(true_displacement_at(info, times, bins),
                               naive_linear_truth(a, b, fs, times, bins), atol=1e-9)


def test_truth_between_units_is_piecewise_linear_in_depth():
    rng = np.random.default_rng(1)
    depths = np.array([300.0, 0.0, 100.0, 100.0])  # unsorted, two units at the same depth are averaged
    dy = rng.normal(0, 5, (6, 4))
    info = make_info(dy, depths, fs=1.0)
    bins = np.array([0.0, 50.0, 100.0, 250.0])
    truth = true_displacement_at(info, temporal_bins_s=np.arange(6.0), spatial_bins_um=bins)
    for t in range(6):
        at_100 = (dy[t, 2] + dy[t, 3]) / 2
        expected = np.interp(bins, [0.0, 100.0, 300.0], [dy[t, 1], at_100, dy[t, 0]])
        np.testing.assert_allclose(truth[t], expected)


@pytest.mark.parametrize("name", sorted(drift_scenarios()))
def test_truth_at_the_units_own_depths_gives_back_the_generators_displacements(name):
    from spikeinterface.generation import generate_displacement_vector

    rng = np.random.default_rng(2)
    locations = np.column_stack([rng.uniform(0, 60, 15), rng.uniform(0, 600, 15), np.zeros(15)])
    unit_displacements, _, _, fs, _ = generate_displacement_vector(
        40.0, locations[:, :2], seed=0, **drift_scenarios()[name].displacement_kwargs(40.0))
    info = dict(unit_displacements=unit_displacements, unit_locations=locations, displacement_sampling_frequency=fs)
    samples = np.arange(0, unit_displacements.shape[0], 7)
    truth = true_displacement_at(info, samples / fs, locations[:, 1])
    np.testing.assert_allclose(truth, unit_displacements[samples, :, 1], atol=1e-9)
    assert np.ptp(unit_displacements[:, :, 1]) > 10.0  # the scenario drifts


# --------------------------------------------------------------------------- scenarios


def test_scenarios_cover_a_rigid_zigzag_jumps_and_nonrigid_drift():
    scenarios = drift_scenarios()
    modes = {(s.drift_mode, s.non_rigid_gradient is None) for s in scenarios.values()}
    assert {("zigzag", True), ("bump", True), ("zigzag", False)} <= modes
    kwargs = scenarios["bumps"].displacement_kwargs(60.0)
    (motion,) = kwargs["motion_list"]
    assert motion["bump_interval_s"] == pytest.approx((7.2, 15.0)) and motion["t_start_drift"] == pytest.approx(6.0)
    assert kwargs["drift_start_um"] == [0.0, 12.5] and kwargs["drift_stop_um"] == [0.0, -12.5]
    with pytest.raises(ValueError, match="drift_mode"):
        DriftScenario(name="x", description="", drift_mode="random")


# --------------------------------------------------------------------------- motion_errors


def motion_from(displacement, times, bins):
    return Motion(displacement=[np.asarray(displacement, dtype=float)], temporal_bins_s=[np.asarray(times, float)],
                  spatial_bins_um=np.asarray(bins, dtype=float))


@pytest.fixture
def linear_nonrigid():
    """Ground truth drifting 0.1 um per um of depth more at the bottom, 2 s bins over 40 s, 3 depths."""
    fs, num_times = 5.0, 201
    t = np.arange(num_times) / fs
    depths = np.array([0.0, 200.0, 400.0])
    a = 15.0 * np.sin(2 * np.pi * t / 20.0)
    info = make_info(a[:, None] * (1.0 - depths[None, :] / 500.0), depths, fs)
    times = np.arange(1.0, 40.0, 2.0)
    bins = np.array([100.0, 300.0])
    return info, times, bins, true_displacement_at(info, times, bins)


def test_a_constant_offset_per_depth_is_no_error(linear_nonrigid):
    info, times, bins, truth = linear_nonrigid
    errors = motion_errors(motion_from(truth + np.array([7.0, -3.0]), times, bins), info)
    assert errors["rms_um"] == pytest.approx(0.0, abs=1e-9) and errors["p95_um"] == pytest.approx(0.0, abs=1e-9)
    assert (errors["num_temporal_bins"], errors["num_spatial_bins"]) == (times.size, bins.size)


def test_a_sine_residual_gives_its_rms_and_p95(linear_nonrigid):
    info, times, bins, truth = linear_nonrigid
    amplitude = 4.0
    residual = amplitude * np.sin(2 * np.pi * times / 10.0)  # 4 whole periods over the bins: zero mean
    motion = motion_from(truth + 2.0 + residual[:, None], times, bins)
    errors = motion_errors(motion, info)
    assert errors["rms_um"] == pytest.approx(amplitude / np.sqrt(2), rel=1e-9)
    np.testing.assert_allclose(motion_residuals(motion, info), np.repeat(residual[:, None], 2, axis=1), atol=1e-9)
    assert errors["p95_um"] == pytest.approx(np.percentile(np.abs(residual), 95))


def test_a_drift_of_the_wrong_sign_is_a_large_error(linear_nonrigid):
    info, times, bins, truth = linear_nonrigid
    errors = motion_errors(motion_from(-truth, times, bins), info)
    expected = np.sqrt(np.mean((2 * (truth - truth.mean(axis=0))) ** 2))
    assert errors["rms_um"] == pytest.approx(expected) and errors["rms_um"] > 10.0


# --------------------------------------------------------------------------- table and figure


def benchmark_table():
    return pd.DataFrame(dict(
        scenario=["zigzag", "zigzag", "bumps"],
        method=["monopolar_triangulation", "center_of_mass", "center_of_mass"],
        rms_um=[1.5, 12.4, 3.0], p95_um=[3.0, 20.0, 6.0], wall_s=[80.0, 16.0, 10.0], num_peaks=[900, 900, 800],
    ))


def test_localization_speed_ratio_uses_the_localization_time():
    df = add_reference_ratios(benchmark_table().assign(localize_s=[70.0, 2.0, 1.0]))
    np.testing.assert_allclose(df["localize_speedup_vs_monopolar"].iloc[:2], [1.0, 35.0])
    assert np.isnan(df["localize_speedup_vs_monopolar"].iloc[2])


def test_timed_localization_counts_the_method_and_puts_it_back():
    from spikeinterface.core import generate_ground_truth_recording
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks
    from spikeinterface.sortingcomponents.peak_localization import localize_peaks
    from spikeinterface.sortingcomponents.peak_localization.method_list import peak_localization_methods

    from si_amortized.evaluation.motion import timed_localization

    recording, _ = generate_ground_truth_recording(durations=[2.0], num_channels=8, num_units=3, seed=0)
    job = dict(n_jobs=1, progress_bar=False)
    peaks = detect_peaks(recording, method_kwargs=dict(method="locally_exclusive"), job_kwargs=job)
    original = peak_localization_methods["center_of_mass"]
    with timed_localization("center_of_mass") as clock:
        inside = localize_peaks(recording, peaks, method_kwargs=dict(method="center_of_mass"), job_kwargs=job)
        seen = clock["seconds"]
        localize_peaks(recording, peaks, method_kwargs=dict(method="monopolar_triangulation"), job_kwargs=job)
        assert clock["seconds"] == seen  # another method is not counted
    assert seen > 0 and peak_localization_methods["center_of_mass"] is original
    outside = localize_peaks(recording, peaks, method_kwargs=dict(method="center_of_mass"), job_kwargs=job)
    np.testing.assert_array_equal(inside, outside)


def test_vae_pretrained_is_the_vae_method_with_the_shipped_model():
    from si_amortized.evaluation.motion import _localize_kwargs

    assert _localize_kwargs("vae_pretrained", dict(half_width_um=40.0)) == dict(method="vae", model="pretrained")
    # the trained rows say model=None: under a detector the node would otherwise take the shipped localizer
    assert _localize_kwargs("vae", None) == dict(method="vae", model=None, half_width_um=40.0)
    assert _localize_kwargs("grid_convolution", None) == dict(method="grid_convolution")
    # the user's call without a model: the node's own default (LocalizeVae's "default")
    from si_amortized.localization.nodes import DEFAULT_MODEL

    assert _localize_kwargs("vae_default", None) == dict(method="vae", model=DEFAULT_MODEL)
    # a model given in the VAE settings (--vae-kwargs) wins over the trained rows' model=None
    assert _localize_kwargs("vae", dict(model="pretrained", seed=1)) == dict(method="vae", model="pretrained", seed=1)
    # a variant that trains keeps the benchmark's VAE settings (window, seed) under its own
    assert _localize_kwargs("vae_gaussian", dict(half_width_um=40.0, seed=3, likelihood="squared_error")) == dict(
        method="vae", model=None, half_width_um=40.0, seed=3, likelihood="gaussian", refine_steps=0)
    # the variants pin the settings the node's detector defaults would otherwise fill in
    assert _localize_kwargs("vae_analyzer_defaults", None) == dict(method="vae", model=None, half_width_um=40.0,
                                                                   likelihood="squared_error", learn_decay_length=False,
                                                                   refine_steps=0)


def test_method_names_with_settings():
    from si_amortized.evaluation.motion import _localize_kwargs, parse_method_settings

    assert parse_method_settings("vae") is None
    assert parse_method_settings("vae:amplitude_model=monopole,half_width_um=30,learn_decay_length=true") == (
        "vae", dict(amplitude_model="monopole", half_width_um=30, learn_decay_length=True))
    assert parse_method_settings("vae:model=null,") == ("vae", dict(model=None))
    # a VAE with settings trains under the benchmark's VAE settings, its own winning
    assert _localize_kwargs("vae:amplitude_model=dipole,half_width_um=30", dict(half_width_um=40.0, seed=2)) == dict(
        method="vae", model=None, half_width_um=30, seed=2, amplitude_model="dipole")
    # another method takes only its own settings
    assert _localize_kwargs("monopolar_triangulation:radius_um=50", dict(seed=2)) == dict(
        method="monopolar_triangulation", radius_um=50)
    for bad in (":x=1", "vae:half_width_um", "vae:=3"):
        with pytest.raises(ValueError, match="method"):
            parse_method_settings(bad)


def test_reference_ratios_are_taken_within_each_scenario():
    df = add_reference_ratios(benchmark_table())
    np.testing.assert_allclose(df["speedup_vs_monopolar"].iloc[:2], [1.0, 5.0])
    np.testing.assert_allclose(df["rms_vs_monopolar"].iloc[:2], [1.0, 12.4 / 1.5])
    assert df[["speedup_vs_monopolar", "rms_vs_monopolar"]].iloc[2].isna().all()  # no monopolar on "bumps"


def test_table_is_markdown_with_one_row_per_scenario_and_method():
    lines = format_motion_table(add_reference_ratios(benchmark_table())).strip().splitlines()
    assert lines[0] == ("| scenario | method | RMS error (um) | p95 error (um) | wall (s) | speed x monopolar "
                        "| RMS x monopolar | peaks |")
    assert lines[1] == "|---|---|---|---|---|---|---|---|"
    assert lines[3] == "| zigzag | center_of_mass | 12.40 | 20.00 | 16.0 | 5.00 | 8.27 | 900 |"
    assert lines[4] == "| bumps | center_of_mass | 3.00 | 6.00 | 10.0 | nan | nan | 800 |"
    assert len(lines) == 5


def test_table_leaves_out_missing_columns():
    lines = format_motion_table(benchmark_table().drop(columns=["num_peaks"])).splitlines()
    assert lines[0] == "| scenario | method | RMS error (um) | p95 error (um) | wall (s) |"


def test_plot_motion_draws_truth_and_one_line_per_method_without_pyplot_state(linear_nonrigid, tmp_path):
    import matplotlib.pyplot as plt

    info, times, bins, truth = linear_nonrigid
    motions = {"a": motion_from(truth + 1.0, times, bins), "b": motion_from(truth * 0.5, times, bins)}
    before = plt.get_fignums()
    fig = plot_motion(motions, info, title="test")
    assert plt.get_fignums() == before
    ax_time, ax_depth = fig.axes
    assert len(ax_time.lines) == 3 and len(ax_depth.lines) == 2
    np.testing.assert_allclose(ax_time.lines[0].get_ydata(), truth[:, 0])  # the middle bin of two: the first
    np.testing.assert_allclose(ax_time.lines[1].get_ydata(), truth[:, 0])  # "a" aligned: its offset removed
    np.testing.assert_allclose(ax_depth.lines[0].get_xdata(), [0.0, 0.0], atol=1e-9)
    fig.savefig(tmp_path / "motion.png")
    assert (tmp_path / "motion.png").stat().st_size > 1000


@pytest.mark.slow
@pytest.mark.parametrize("preset, bound, estimate_kwargs", [
    ("nonrigid_fast_and_accurate", 0.6, None), ("dredge_fast", 0.9, None),
    ("nonrigid_fast_and_accurate", 0.6, {"histogram_depth_smooth_um": 3.0, "bin_s": 1.5}),
])
def test_one_tiny_correct_motion_run_beats_a_flat_estimate(preset, bound, estimate_kwargs):
    """``bound``: the largest RMS allowed, as a share of a flat estimate's (dredge_fast is 0.78 on these 12 s)."""
    from si_amortized.evaluation.motion import run_motion_benchmark

    result = run_motion_benchmark([drift_scenarios()["zigzag"]], methods=["grid_convolution"], duration=12.0,
                                  num_channels=32, num_units=8, preset=preset, estimate_motion_kwargs=estimate_kwargs)
    row = result.table.iloc[0]
    motion = result.motions["zigzag"]["grid_convolution"]
    assert (row["scenario"], row["method"]) == ("zigzag", "grid_convolution")
    assert row["wall_s"] > 0 and row["num_peaks"] > 0
    assert 0 < row["localize_s"] < row["wall_s"]
    assert row["speedup_vs_monopolar"] != row["speedup_vs_monopolar"]  # NaN: no monopolar in this run
    if estimate_kwargs is not None:  # the settings reached the estimator (the preset's bins are 2 s)
        np.testing.assert_allclose(np.diff(motion.temporal_bins_s[0]), estimate_kwargs["bin_s"])
    no_motion = motion_from(np.zeros_like(motion.displacement[0]), motion.temporal_bins_s[0], motion.spatial_bins_um)
    assert 0.0 < row["rms_um"] < bound * motion_errors(no_motion, result.infos["zigzag"])["rms_um"]


@pytest.mark.parametrize("name", ["zigzag", "bumps", "nonrigid"])
def test_scenario_drift_vector_is_the_generators_displacement_of_the_unit_that_moves_most(name):
    from si_amortized.evaluation.motion import generate_scenario_recording, scenario_drift_vector

    vector, fs = scenario_drift_vector(drift_scenarios()[name], 30.0, seed=4)
    _, info = generate_scenario_recording(drift_scenarios()[name], 30.0, num_channels=32, num_units=4, seed=4)
    moved = info["unit_displacements"][:, :, 1]
    assert fs == info["displacement_sampling_frequency"] and vector.shape == (int(30.0 * fs),)
    np.testing.assert_allclose(vector, moved[: vector.size, np.argmax(np.abs(moved).max(axis=0))], atol=1e-6)
    assert np.ptp(vector) > 20.0


def test_step_bins_mark_the_bins_around_a_jump_and_none_of_a_steady_drift():
    times = np.arange(1.0, 41.0, 2.0)
    ramp = 4.0 * times[:, None] * np.ones((1, 2))  # 8 um per bin: fast, but no jump
    assert not step_bins(ramp).any()
    step = np.where(times[:, None] > 20.0, 12.5, 0.0) * np.ones((1, 2))  # jumps between bins 9 and 10
    near = step_bins(step, margin=2)
    assert np.flatnonzero(near).tolist() == [8, 9, 10, 11]
    assert np.flatnonzero(step_bins(step, margin=1)).tolist() == [9, 10]


def test_rms_away_from_jumps_leaves_out_the_bins_that_straddle_a_step():
    fs = 10.0
    t = np.arange(0, 40.0 + 1e-9, 1 / fs)
    depths = np.array([0.0, 400.0])
    truth_t = np.where(t > 20.0, 12.5, 0.0)
    info = make_info(np.repeat(truth_t[:, None], 2, axis=1), depths, fs)
    times = np.arange(1.0, 40.0, 2.0)
    bins = np.array([100.0, 300.0])
    truth = true_displacement_at(info, times, bins)
    estimate = truth.copy()
    estimate[9:11] += 6.0  # a wrong transition, and nothing else
    errors = motion_errors(motion_from(estimate, times, bins), info)
    assert errors["num_step_bins"] == 4
    residual = motion_residuals(motion_from(estimate, times, bins), info)
    near = step_bins(truth)
    assert errors["rms_steady_um"] == pytest.approx(np.sqrt(np.mean(residual[~near] ** 2)))
    assert errors["rms_steady_um"] < 0.4 * errors["rms_um"]
    steady = motion_errors(motion_from(truth + 1.0, times, bins), info)
    assert steady["rms_steady_um"] == pytest.approx(0.0, abs=1e-9)


def test_seeded_noise_levels_are_what_correct_motion_reads_and_the_same_for_a_rebuilt_recording():
    from spikeinterface.core import get_noise_levels
    from si_amortized.evaluation.motion import generate_scenario_recording, seed_noise_levels

    build = lambda: generate_scenario_recording(drift_scenarios()["zigzag"], 10.0, 32, 4, seed=3)[0]  # noqa: E731
    first, second, unseeded = build(), build(), build()
    levels = seed_noise_levels(first, seed=3)
    # correct_motion's own call, unseeded, finds them cached
    np.testing.assert_array_equal(get_noise_levels(first, return_in_uV=False), levels)
    np.testing.assert_array_equal(seed_noise_levels(second, seed=3), levels)
    assert not np.array_equal(get_noise_levels(unseeded, return_in_uV=False), levels)  # what it would read else
    assert not np.array_equal(seed_noise_levels(second, seed=4), levels)


@pytest.mark.parametrize("preset", ["nonrigid_fast_and_accurate", "dredge_fast"])
def test_detector_warm_up_leaves_the_seeded_noise_levels_and_the_peaks_alone(preset):
    """The warm-up before timing compiles the detector on a slice; what correct_motion will read stays as it was."""
    from spikeinterface.core import get_noise_levels
    from spikeinterface.preprocessing.motion import motion_options_preset
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    from si_amortized.evaluation.motion import generate_scenario_recording, seed_noise_levels, warm_up_detector

    recording = generate_scenario_recording(drift_scenarios()["zigzag"], 10.0, 32, 4, seed=3)[0]
    levels = seed_noise_levels(recording, seed=3)
    detect = dict(motion_options_preset[preset]["detect_kwargs"])
    method = detect.pop("method")
    job = dict(n_jobs=1, progress_bar=False)
    before = detect_peaks(recording, method=method, method_kwargs=dict(detect, noise_levels=levels), job_kwargs=job)
    warm_up_detector(recording, preset)
    np.testing.assert_array_equal(get_noise_levels(recording, return_in_uV=False), levels)
    after = detect_peaks(recording, method=method, method_kwargs=dict(detect, noise_levels=levels), job_kwargs=job)
    np.testing.assert_array_equal(before, after)
