"""Benchmark: how a simulation-trained localizer does on a cell model absent from its training corpus.

For each held-out BBP cell model, a localizer is trained (as ``scripts/train_pretrained_localizers.py``
does) on the simulated templates of every other cell model, and scored on the spikes of that cell model's
units in a MEArec recording, next to the shipped ``model="pretrained"`` localizer (which saw every cell
model) and SpikeInterface's localizers on the same spikes.

Needs the simulated template libraries (the ``simulation`` extra; cached after the first run).

Example
-------
python benchmarks/leave_one_cell_model_out.py --recording FILE.h5 --held-out L5_UTPC L5_NGC
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

import si_amortized  # noqa: F401  (registers vae_locations)
from si_amortized.datasets import load_mearec
from si_amortized.datasets.templates import TemplateLibrary, simulate_templates
from si_amortized.evaluation.localization_strata import stratified_errors
from si_amortized.localization import (
    FeatureConfig,
    ModelConfig,
    SimulationConfig,
    TrainingConfig,
    band_pass_templates,
    fit_simulated_localizer,
)

PEERS = ("center_of_mass", "monopolar_triangulation", "grid_convolution")


def main() -> None:
    import spikeinterface.core as sc

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, required=True, help="MEArec .h5 on the library's probe")
    parser.add_argument("--held-out", nargs="+", required=True, help="m-types to hold out, e.g. L5_UTPC")
    parser.add_argument("--probe", default="SqMEA-10-15")
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2], help="template seeds of the corpus")
    parser.add_argument("--library", type=Path, nargs="*", default=None, help="template .npz files instead")
    parser.add_argument("--n-per-cell", type=int, default=25)
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()

    if args.library:
        libraries = [TemplateLibrary.load(p) for p in args.library]
    else:
        libraries = [simulate_templates(args.probe, n_per_cell=args.n_per_cell, seed=s) for s in args.seeds]
    fs = libraries[0].sampling_frequency
    mtypes = np.concatenate([lib.mtypes for lib in libraries])
    templates = np.concatenate([band_pass_templates(lib.templates.transpose(0, 2, 1), fs) for lib in libraries])
    somas = np.concatenate([lib.soma_locations for lib in libraries])

    recording, gt_sorting = load_mearec(args.recording)
    recording = recording.save(format="memory", n_jobs=args.n_jobs, progress_bar=False)
    job = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)
    analyzer = sc.create_sorting_analyzer(gt_sorting, recording, sparse=False, format="memory")
    analyzer.compute(["random_spikes", "templates"], **job)
    results = {m: analyzer.compute("spike_locations", method=m, save=False, **job).get_data() for m in PEERS}
    results["vae pretrained (every cell model)"] = analyzer.compute(
        "vae_locations", model="pretrained", save=False, **job
    ).get_data()
    unit_mtypes = np.asarray(gt_sorting.get_property("mtype"))[gt_sorting.to_spike_vector()["unit_index"]]
    for held in args.held_out:
        keep = mtypes != held
        if keep.all():
            parser.error(f"{held} is not in the corpus ({sorted(set(mtypes))})")
        model = fit_simulated_localizer(
            templates[keep], somas[keep], libraries[0].channel_locations(), fs, FeatureConfig(half_width_um=40.0),
            ModelConfig(), TrainingConfig(epochs=20, max_spikes=200_000, seed=0), SimulationConfig(spikes_per_template=200),
        )
        rows = dict(results)
        rows[f"vae trained without {held}"] = analyzer.compute("vae_locations", model=model, save=False, **job).get_data()
        stratum = {held: unit_mtypes == held}
        num_units = int(np.sum(np.asarray(gt_sorting.get_property("mtype")) == held))
        print(f"\n{held}: {int(stratum[held].sum())} spikes of {num_units} units in the recording; 2D error to the "
              "soma, mean (median), and |z| error (um)")
        for name, loc in rows.items():
            r = stratified_errors(loc, gt_sorting, stratum)[held]
            z = f"  |z| {r['mean_abs_z']:.2f}" if "mean_abs_z" in r else ""
            print(f"  {name:<36} {r['mean_2d']:6.2f} ({r['median_2d']:.2f}){z}")


if __name__ == "__main__":
    main()
