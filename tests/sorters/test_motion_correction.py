"""The location sorter on a drifting recording: correct_motion first, the motion saved with the sorting."""

import warnings

import numpy as np
import pytest

import si_amortized.sorters  # noqa: F401  (registers "location_sorter")
from si_amortized.sorters import read_sorter_features, sort_by_locations
from si_amortized.sorters.motion import DEFAULT_MOTION_CORRECTION, check_motion_correction

# center_of_mass keeps the sorter's own localization quick; correct_motion trains its VAE (the default) on the
# peaks of 20 random one-second chunks (5 epochs on 1,500 spikes followed the drift to 10 um RMS only)
# the same settings in both modes, the detection threshold included (its default differs: 4.5 still, 5 corrected)
SORTER = dict(localization_method="center_of_mass", n_pcs=0, amplitude_scale=0.0, bandwidth=6.0, detect_threshold=5.0)


@pytest.fixture(scope="module")
def zigzag(tmp_path_factory):
    """30 s, 32 channels of a Neuropixels-1.0-like probe, 12 units drifting 30 um up and down (period 15 s)."""
    from si_amortized.evaluation.motion import drift_scenarios, generate_scenario_ground_truth

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recording, sorting, info = generate_scenario_ground_truth(
            drift_scenarios()["zigzag"], duration=30.0, num_channels=32, num_units=12, seed=2
        )
    folder = tmp_path_factory.mktemp("zigzag") / "recording"  # run_sorter needs a serializable recording
    return recording.save(folder=folder, n_jobs=1, progress_bar=False), sorting, info


def _well_detected(gt, sorting):
    from spikeinterface.comparison import compare_sorter_to_ground_truth

    return len(compare_sorter_to_ground_truth(gt, sorting, exhaustive_gt=True).get_well_detected_units(0.8))


def test_none_takes_the_default_of_the_mode():
    from si_amortized.sorters.location_sorter import MODE_DEFAULTS, LocationSorter, resolve_mode_defaults

    still = resolve_mode_defaults(dict(LocationSorter._default_params))
    moving = resolve_mode_defaults(dict(LocationSorter._default_params, apply_motion_correction=True))
    assert {k: still[k] for k in MODE_DEFAULTS[False]} == MODE_DEFAULTS[False]
    assert {k: moving[k] for k in MODE_DEFAULTS[True]} == MODE_DEFAULTS[True]
    mine = resolve_mode_defaults(dict(LocationSorter._default_params, apply_motion_correction=True, n_pcs=3))
    assert mine["n_pcs"] == 3 and mine["amplitude_scale"] == 0.0
    # the detection threshold: 4.5 on a still probe with threshold detection, 5 otherwise, a given one kept
    assert (still["detect_threshold"], moving["detect_threshold"]) == (4.5, 5.0)
    filtered = resolve_mode_defaults(dict(LocationSorter._default_params, detection_method="matched_filtering"))
    assert filtered["detect_threshold"] == 5.0
    given = resolve_mode_defaults(dict(LocationSorter._default_params, detect_threshold=6.0))
    assert given["detect_threshold"] == 6.0


def test_motion_correction_settings_are_checked():
    kwargs = check_motion_correction({})
    assert kwargs["preset"] == DEFAULT_MOTION_CORRECTION["preset"]
    assert kwargs["localize_peaks_kwargs"] == {"method": "vae", "model": "auto", "likelihood": "squared_error",
                                               "learn_decay_length": False, "refine_steps": 0}
    # the VAE's "auto" model means nothing to SpikeInterface's localizers
    other = check_motion_correction(dict(localize_peaks_kwargs=dict(method="monopolar_triangulation", model="auto")))
    assert other["localize_peaks_kwargs"] == {"method": "monopolar_triangulation"}
    # non-rigid windows narrower than the preset's; a given entry replaces the default's whole entry
    assert kwargs["estimate_motion_kwargs"] == {"win_step_um": 150.0, "win_scale_um": 150.0}
    assert check_motion_correction(dict(estimate_motion_kwargs={"rigid": True}))["estimate_motion_kwargs"] == {"rigid": True}
    with pytest.raises(ValueError, match="preset"):
        check_motion_correction(dict(preset="no_such_preset"))
    with pytest.raises(ValueError, match="Unknown motion_correction keys"):
        check_motion_correction(dict(radius_um=50))
    with pytest.raises(ValueError, match="must be a dict"):
        check_motion_correction(dict(detect_kwargs=[1]))
    with pytest.raises(ValueError, match="must be a dict"):
        check_motion_correction("dredge")
    with pytest.raises(ValueError, match="features"):
        check_motion_correction(dict(features="waveforms"))


@pytest.mark.slow
def test_motion_correction_recovers_the_units_that_drift_splits(zigzag, tmp_path):
    from spikeinterface.sorters import run_sorter

    from si_amortized.evaluation.motion import motion_errors

    recording, gt, info = zigzag
    job = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
    drifting, drifting_out = sort_by_locations(recording, dict(SORTER, job_kwargs=job))
    corrected = run_sorter("location_sorter", recording, folder=tmp_path / "mc", apply_motion_correction=True,
                           job_kwargs=job, **SORTER)
    # 4 -> 7 of 12 here (circus-omp matching: 3 -> 7)
    assert _well_detected(gt, corrected) >= _well_detected(gt, drifting) + 3
    assert _well_detected(gt, corrected) >= 6
    saved = read_sorter_features(tmp_path / "mc")
    assert saved["params"]["apply_motion_correction"] is True
    assert saved["params"]["bandwidth"] == 6.0  # what the user gives wins over the motion-corrected defaults
    errors = motion_errors(saved["motion"], info)
    assert errors["rms_um"] < 5.0  # the drift spans 30 um
    # same sorting with two jobs: correct_motion's detection reuses the sorter's seeded noise levels
    again, _ = sort_by_locations(recording, dict(SORTER, apply_motion_correction=True,
                                                 job_kwargs=dict(job, n_jobs=2)))
    np.testing.assert_array_equal(again.to_spike_vector(), corrected.to_spike_vector())
    # features from the drifting traces, each location moved back by the motion: the cells come back too
    moved, out = sort_by_locations(recording, dict(SORTER, apply_motion_correction=True, job_kwargs=job,
                                                   motion_correction=dict(features="peaks")))
    assert _well_detected(gt, moved) >= _well_detected(gt, drifting) + 3
    np.testing.assert_array_equal(out["peaks"], drifting_out["peaks"])  # same traces, same detection
    assert np.std(out["locations"]["y"] - drifting_out["locations"]["y"]) > 3.0  # moved by the zigzag
