"""VAE peak localization inside SpikeInterface's motion correction, top to bottom.

1. a drifting Neuropixels-1.0-like recording with a known drift (``spikeinterface.generation``, 30 kHz, a
   30 um zigzag), built offline;
2. ``correct_motion(..., localize_peaks_kwargs=dict(method="vae"))``: under the pipeline's peak detector the
   node takes the shipped localizer that fits this layout (simulated at 32 kHz on it, the 30 kHz waveforms
   resampled onto its grid; no training) and localizes every peak, each location refined to its posterior
   mode (under a detector the node defaults to ``refine_steps=5``, the setting that follows drift best;
   analyzers keep ``refine_steps=0``);
3. the same with a localizer trained on this recording (``model=None``: on the peaks the pipeline's own
   detector finds in random chunks, seeded; also what happens when no shipped localizer fits the layout), and
   with SpikeInterface's ``monopolar_triangulation``;
4. each estimated displacement against the truth (RMS error over time bins and depths), and the localizer's
   own time;
5. a figure of estimated vs true displacement;
6. the location sorter on the drifting recording, without and with ``apply_motion_correction=True``, scored
   against the ground-truth spike trains.

Set ``SI_AMORTIZED_QUICK=1`` to run on tiny data in about two minutes, and ``SI_AMORTIZED_TUTORIAL_OUT=folder``
to choose where the figure goes (default: a temporary folder).
"""

import os
import tempfile
import warnings
from pathlib import Path

import si_amortized  # noqa: F401  (importing registers the "vae" localization method)
from si_amortized.evaluation.motion import (
    drift_scenarios,
    generate_scenario_ground_truth,
    motion_errors,
    plot_motion,
    seed_noise_levels,
    timed_localization,
)
from spikeinterface.preprocessing import correct_motion

QUICK = os.environ.get("SI_AMORTIZED_QUICK", "0") == "1"
out_dir = Path(os.environ.get("SI_AMORTIZED_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="motion_correction_"))
out_dir.mkdir(parents=True, exist_ok=True)
# the motion presets pass settings of SpikeInterface's localizers along; the VAE says it ignores them
warnings.filterwarnings("ignore", message="the 'vae' localizer ignores")

# 1. a drifting recording with known drift ----------------------------------------------------------
duration = 24.0 if QUICK else 60.0
scenario = drift_scenarios()["zigzag"]
recording, gt_sorting, truth = generate_scenario_ground_truth(
    scenario, duration=duration, num_channels=32 if QUICK else 64, num_units=12 if QUICK else 20, seed=0
)
print(f"{recording.get_num_channels()} channels, {recording.sampling_frequency:g} Hz, {duration:g} s: "
      f"{scenario.description}")

# 2-3. motion correction with each localizer -----------------------------------------------------------
# correct_motion's detector reads noise levels from unseeded random chunks unless the recording has them:
# seeded here, every run of this script, and every localizer below, gets the same peaks
seed_noise_levels(recording, seed=0)
job_kwargs = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
localizers = {
    "vae": dict(method="vae"),                                      # the shipped localizer, no training, refined
    "vae trained": dict(method="vae", model=None, seed=0),          # trained on peaks of 20 random chunks, refined
    "monopolar_triangulation": dict(method="monopolar_triangulation"),
}
motions = {}
for name, localize_kwargs in localizers.items():
    with timed_localization(localize_kwargs["method"]) as clock:  # the localizer's own time, training included
        corrected, motion = correct_motion(recording, preset="nonrigid_fast_and_accurate", output_motion=True,
                                           localize_peaks_kwargs=localize_kwargs, **job_kwargs)
    motions[name] = motion
    # 4. the estimate against the truth (the offset per depth removed: motion is known up to a constant)
    errors = motion_errors(motion, truth)
    print(f"{name}: RMS error of the displacement {errors['rms_um']:.2f} um (95th percentile "
          f"{errors['p95_um']:.2f} um) over {errors['num_temporal_bins']} time bins; "
          f"localizer {clock['seconds']:.1f} s")
flat = motion_errors(motion.__class__([0.0 * d for d in motion.displacement], motion.temporal_bins_s,
                                      motion.spatial_bins_um), truth)
print(f"no correction (a flat estimate): RMS error {flat['rms_um']:.2f} um")
print(f"the corrected recording is lazy: {corrected}")

# 5. estimated vs true displacement ------------------------------------------------------------------
figure = plot_motion(motions, truth, title="zigzag drift: estimated vs true displacement")
figure_path = out_dir / "motion_correction.png"
figure.savefig(figure_path, dpi=90)
print(f"figure: {figure_path}")

# 6. sorting a drifting recording --------------------------------------------------------------------
# a location sorter clusters where spikes come from: a drifting cell leaves a trail of locations.
# apply_motion_correction=True runs correct_motion (dredge_fast, the VAE localizer) and sorts the corrected
# traces; the motion is saved with the sorting (read_sorter_features(folder)["motion"]).
from spikeinterface.comparison import compare_sorter_to_ground_truth
from spikeinterface.sorters import run_sorter

from si_amortized.sorters import read_sorter_features

saved = recording.save(folder=out_dir / "drifting_recording", overwrite=True, **job_kwargs)  # run_sorter needs a file
for correct in (False, True):
    folder = out_dir / f"location_sorter_{'corrected' if correct else 'drifting'}"
    sorting = run_sorter("location_sorter", saved, folder=folder, remove_existing_folder=True,
                         apply_motion_correction=correct, job_kwargs=job_kwargs)
    comparison = compare_sorter_to_ground_truth(gt_sorting, sorting, exhaustive_gt=True)
    well = len(comparison.get_well_detected_units(0.8))
    print(f"location_sorter, motion correction {'on' if correct else 'off'}: {sorting.get_num_units()} units, "
          f"{well} of {gt_sorting.get_num_units()} cells with accuracy >= 0.8")
sorter_motion = read_sorter_features(folder)["motion"]
print(f"the sorter's own motion estimate: RMS error {motion_errors(sorter_motion, truth)['rms_um']:.2f} um")
