"""Train the localizers shipped in si_amortized/localization/pretrained/ (``model="pretrained"``).

Needs the simulation extra (NEURON < 9, LFPy). Run from the repository root:

    python scripts/train_pretrained_localizers.py --probes SqMEA-10-15 Neuropixels-64 --n-per-cell 25 --seeds 1 2 3 4

For each probe it simulates ``n_per_cell`` MEArec templates of each of the 13 BBP cell models with each
of ``--seeds`` (cached in the user cache; 10-15 min per 325 templates on one core), band-passes them as
MEArec's recordings are, and trains a localizer supervised on spikes synthesized from them (``fit_simulated_localizer``: random scale,
band-passed noise 5-30 uV, 30 % overlapping spikes), holding 15 % of the templates out to calibrate
the posterior. The packaged template library (seed 0), from which the benchmark recordings draw their
cells, is never used, so no benchmark template is in the training data. The model's metadata records
the corpus, the seeds it excludes, the settings and the calibration. Then calibrate the posterior on
MEArec recordings with ``scripts/calibrate_pretrained_localizers.py`` (the shipped files: seeds 0 and 11).
"""

import argparse
import time
from pathlib import Path

import numpy as np

from si_amortized.datasets.templates import TemplateLibrary, simulate_templates
from si_amortized.localization import FeatureConfig, ModelConfig, SimulationConfig, TrainingConfig
from si_amortized.localization import band_pass_templates, fit_simulated_localizer, save_localizer
from si_amortized.localization.pretrained import PRETRAINED_FOLDER

#: Settings of the shipped localizers (chosen on MEArec seed 11, reported on seed 21).
FEATURES = dict(half_width_um=40.0)
TRAINING = dict(epochs=20, max_spikes=200_000, seed=0)
SIMULATION = dict(spikes_per_template=200)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probes", nargs="+", default=["SqMEA-10-15"])
    parser.add_argument("--n-per-cell", type=int, default=25)
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4],
                        help="template seeds (the packaged library uses 0)")
    parser.add_argument("--library", type=Path, nargs="*", default=None,
                        help="use these template .npz files (those of each probe are pooled) instead of simulating")
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--half-width", type=float, default=FEATURES["half_width_um"],
                        help="half-width of the neighbourhood (um)")
    parser.add_argument("--output", type=Path, default=PRETRAINED_FOLDER)
    args = parser.parse_args()
    for probe in args.probes:
        t0 = time.perf_counter()
        if args.library:
            libraries = [lib for lib in map(TemplateLibrary.load, args.library) if lib.probe == probe]
        else:
            libraries = [simulate_templates(probe, n_per_cell=args.n_per_cell, seed=seed, n_jobs=args.n_jobs,
                                            verbose=True) for seed in args.seeds]
        if not libraries:
            parser.error(f"no template library for {probe}")
        seeds = sorted(int(lib.params.get("seed", -1)) for lib in libraries)
        if 0 in seeds:
            parser.error("seed 0 is the packaged library's, from which benchmark recordings are made")
        fs = libraries[0].sampling_frequency
        templates = np.concatenate([band_pass_templates(lib.templates.transpose(0, 2, 1), fs) for lib in libraries])
        somas = np.concatenate([lib.soma_locations for lib in libraries])
        corpus = dict(
            probe=probe, template_seed=seeds[0], template_seeds=seeds,
            n_per_cell=int(sum(lib.params.get("n", args.n_per_cell) for lib in libraries)),
            cell_models=sorted(set(np.concatenate([lib.cell_models for lib in libraries]))),
            excluded_template_seeds=[0], note="the packaged library (seed 0) and every benchmark recording are excluded",
        )
        model = fit_simulated_localizer(
            templates, somas, libraries[0].channel_locations(), fs,
            FeatureConfig(**dict(FEATURES, half_width_um=args.half_width)), ModelConfig(), TrainingConfig(**TRAINING), SimulationConfig(**SIMULATION),
            description=corpus, verbose=True,
        )
        path = save_localizer(model, args.output / f"vae_{probe}.pt")
        cal = model.metadata["calibration"]
        print(
            f"{probe}: {len(templates)} templates, {model.metadata['num_training_spikes']} synthetic spikes, "
            f"{time.perf_counter() - t0:.0f} s -> {path} ({path.stat().st_size / 1e6:.2f} MB)\n"
            f"  held-out templates: 2D error {cal['mean_error_2d_um']:.2f} um, |z| error {cal['mean_abs_z_error_um']:.2f} um, "
            f"std scale {[round(v, 2) for v in cal['std_scale']]}, coverage before {cal['coverage_before']}, "
            f"after {cal['coverage_after']}"
        )


if __name__ == "__main__":
    main()
