"""Benchmark: each localizer on the same detected peaks, under one motion estimator at several settings.

``benchmarks/motion.py`` runs ``correct_motion`` once per localizer. This one separates the localizer from the
estimator: per drifting recording (``spikeinterface.generation``, the scenarios of
``si_amortized.evaluation.motion.drift_scenarios``) it detects the peaks once (the preset's detector, noise
levels from seeded chunks), localizes those peaks with every method (``vae``: trained on these peaks, seeded;
``vae_pretrained``: the shipped localizer), and estimates the motion from each localization with the preset's
estimator for each value of one estimator setting (by default the depth histogram's smoothing,
``histogram_depth_smooth_um``; the preset ``nonrigid_fast_and_accurate`` uses 1 um over 5 um bins). It prints
the RMS error of the estimated displacement per (recording, method, value) as it goes, then per scenario and
value the mean over seeds and each method's paired difference to ``monopolar_triangulation`` with a 95 %
bootstrap interval over seeds and its number of seeds at or below it.

The method ``oracle`` places each detected peak at its ground-truth cell's true position at that time, and
``oracle+S`` adds S um of seeded Gaussian scatter per axis (``si_amortized.evaluation.motion_oracle``; the peaks
no cell explains are left out): the same estimator on the same peaks then shows the error that no localizer
can remove, and how it changes with the locations' precision. ``--mearec``: MEArec recordings of biophysical
cells (as ``benchmarks/motion.py --mearec``) instead of ``spikeinterface.generation``'s.

Examples
--------
python benchmarks/motion_shared_peaks.py --seeds 4 5 6 7 8 --values 1 3 5
python benchmarks/motion_shared_peaks.py --seeds 1 --scenarios nonrigid --setting bin_um --values 5 10
python benchmarks/motion_shared_peaks.py --mearec --num-units 16 --seeds 1 2 3 4 5 --scenarios nonrigid \
    --methods monopolar_triangulation vae_pretrained oracle oracle+5 --values 1
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import pandas as pd

import si_amortized  # noqa: F401  (registers the "vae" localization method)
from si_amortized.evaluation.motion import (
    PRESET,
    REFERENCE_METHOD,
    _localize_kwargs,
    drift_scenarios,
    motion_errors,
    scenario_ground_truth,
    seed_noise_levels,
)
from si_amortized.evaluation.motion_oracle import oracle_peak_locations, oracle_scatter_um
from si_amortized.evaluation.seed_summary import paired_over_seeds

METHODS = ("monopolar_triangulation", "grid_convolution", "vae", "vae_pretrained")


def localize_all(recording, peaks, methods, vae_seed: int, job: dict, sorting=None, info=None) -> dict:
    """``(peaks, locations)`` of each method: SpikeInterface's structured locations of every peak, or for an
    oracle method (:func:`~si_amortized.evaluation.motion_oracle.oracle_scatter_um`) the matched peaks at their
    cells' true positions."""
    from spikeinterface.sortingcomponents.peak_localization import localize_peaks

    vae = dict(half_width_um=40.0, seed=vae_seed)
    out = {}
    for m in methods:
        scatter = oracle_scatter_um(m)
        if scatter is None:
            out[m] = peaks, localize_peaks(recording, peaks, method_kwargs=_localize_kwargs(m, vae), job_kwargs=job)
        else:
            locations, matched = oracle_peak_locations(peaks, recording.get_channel_locations(), sorting, info,
                                                       scatter_um=scatter, seed=vae_seed)
            out[m] = peaks[matched], locations[matched]
    return out


def run(seeds, scenario_names, methods, setting: str, values, preset: str, duration: float, num_channels: int,
        num_units: int, noise_seed: int, vae_seed: int, out=sys.stdout, mearec_templates=None) -> dict:
    """``errors[(scenario, method, value, seed)]``: RMS error (um) of the motion estimated from each localization."""
    from spikeinterface.preprocessing.motion import motion_options_preset
    from spikeinterface.sortingcomponents.motion import estimate_motion
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks

    options = motion_options_preset[preset]
    detect = dict(options["detect_kwargs"])
    estimate = dict(options["estimate_motion_kwargs"])
    job = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
    scenarios = drift_scenarios()
    errors = {}
    for seed in seeds:
        for name in scenario_names:
            recording, sorting, info = scenario_ground_truth(scenarios[name], duration, num_channels, num_units, seed,
                                                             mearec_templates)
            noise = seed_noise_levels(recording, noise_seed)
            peaks = detect_peaks(recording, method_kwargs=dict(detect, noise_levels=noise), job_kwargs=job)
            located = localize_all(recording, peaks, methods, vae_seed, job, sorting, info)
            print(f"seed {seed} {name}: {peaks.size} peaks; RMS (um) per {setting}", file=out)
            for method, (used, loc) in located.items():
                line = []
                for value in values:
                    motion = estimate_motion(recording, used, loc, progress_bar=False, **{**estimate, setting: value})
                    errors[(name, method, value, seed)] = motion_errors(motion, info)["rms_um"]
                    line.append(f"{value:g}: {errors[(name, method, value, seed)]:5.2f}")
                print(f"    {method:25s} " + "  ".join(line), file=out, flush=True)
    return errors


def paired_summary(errors: dict, reference: str = REFERENCE_METHOD) -> list[str]:
    """Per (scenario, value): each method's mean over seeds and its paired difference to ``reference``.

    Returns
    -------
    list of str
        ``scenario value: method mean (difference [2.5 %, 97.5 %] bootstrap over seeds, seeds at or below)``.
    """
    table = pd.DataFrame([dict(scenario=k[0], method=k[1], value=k[2], seed=k[3], rms_um=v) for k, v in errors.items()])
    summary = paired_over_seeds(table.sort_values(["scenario", "value"], kind="stable"), reference,
                                by=("scenario", "value"))
    lines = []
    for (scenario, value), part in summary.groupby(["scenario", "value"], sort=False):
        parts = [f"{r.method} {r.mean:.2f}" if r.method == reference else
                 f"{r.method} {r.mean:.2f} ({r.difference:+.2f} [{r.low:+.2f}, {r.high:+.2f}], "
                 f"{r.at_or_below}/{r.num_seeds})" for r in part.itertuples()]
        lines.append(f"{scenario} {value:g}: " + " | ".join(parts))
    return lines


def parse_log(text: str) -> dict:
    """The ``errors`` of :func:`run` back from its printed lines (to summarise several runs together)."""
    errors, seed, scenario = {}, None, None
    for line in text.splitlines():
        head = re.match(r"seed (\d+) (\w+):", line)
        if head:
            seed, scenario = int(head.group(1)), head.group(2)
            continue
        row = re.match(r"\s+(\S+)\s+((?:-?[\d.]+:\s+[\d.]+\s*)+)$", line)
        if row and seed is not None:
            for value, rms in re.findall(r"(-?[\d.]+):\s+([\d.]+)", row.group(2)):
                errors[(scenario, row.group(1), float(value), seed)] = float(rms)
    return errors


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, nargs="+", default=[4, 5, 6, 7, 8])
    parser.add_argument("--scenarios", nargs="+", choices=list(drift_scenarios()), default=list(drift_scenarios()))
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--setting", default="histogram_depth_smooth_um", help="the estimator setting varied")
    parser.add_argument("--values", type=float, nargs="+", default=[1.0, 3.0, 5.0])
    parser.add_argument("--preset", default=PRESET)
    parser.add_argument("--duration", type=float, default=90.0)
    parser.add_argument("--num-channels", type=int, default=64)
    parser.add_argument("--num-units", type=int, default=20)
    parser.add_argument("--noise-seed", type=int, default=0, help="seed of the chunks the noise levels come from")
    parser.add_argument("--vae-seed", type=int, default=0, help="seed of the VAE's training and of the oracle's scatter")
    parser.add_argument("--mearec", action="store_true",
                        help="MEArec recordings of biophysical cells (Neuropixels-64; needs the simulation extra)")
    parser.add_argument("--mearec-templates", type=Path, default=None,
                        help="drifting MEArec templates .h5 (default: simulate_drifting_templates(), cached)")
    parser.add_argument("--summarize", nargs="+", default=None, metavar="LOG",
                        help="only summarise the printed output of earlier runs")
    args = parser.parse_args(argv)
    if args.summarize:
        errors = {}
        for path in args.summarize:
            with open(path) as f:
                errors.update(parse_log(f.read()))
    else:
        if REFERENCE_METHOD not in args.methods:
            parser.error(f"--methods needs {REFERENCE_METHOD}, the reference of the paired differences")
        templates = None
        if args.mearec:
            from si_amortized.datasets.mearec_drift import simulate_drifting_templates

            templates = args.mearec_templates or simulate_drifting_templates("Neuropixels-64", n_per_cell=3, seed=1)
        errors = run(args.seeds, args.scenarios, args.methods, args.setting, args.values, args.preset, args.duration,
                     args.num_channels, args.num_units, args.noise_seed, args.vae_seed, mearec_templates=templates)
    print("\nmean RMS over seeds; paired difference to the reference [95 % bootstrap over seeds], seeds at or below:")
    print("\n".join(paired_summary(errors)))


if __name__ == "__main__":
    main()
