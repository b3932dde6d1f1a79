"""Benchmark: sorters on drifting ground truth, each with its motion correction, in one SorterStudy.

A location sorter clusters where spikes come from, so a cell that drifts along the probe leaves a trail of
locations. Cases (through ``run_sorter`` inside ``spikeinterface.benchmark.SorterStudy``, same recording,
same run): the location sorter without and with ``apply_motion_correction`` (``correct_motion`` with the
VAE localizer, ``dredge_fast``), and each installed peer with its own motion correction on (``lupin`` and
``tridesclous2``: ``apply_motion_correction=True``; ``spykingcircus2`` corrects by default). Prints
well-detected units (accuracy >= 0.8), mean accuracy, precision, recall, false-positive and redundant units
and wall time, and the location sorter's motion error against the true drift; writes a figure per recording.

Drifting ground truth: ``spikeinterface.generation.generate_drifting_recording`` on a 64-channel
Neuropixels-1.0-like probe (default), or biophysical MEArec cells on Neuropixels-64 (``--mearec-templates``,
drifting templates of :func:`si_amortized.datasets.mearec_drift.simulate_drifting_templates`; the
``simulation`` extra). Scenarios: those of ``benchmarks/motion.py`` (zigzag, bumps, nonrigid).

Usage::

    python benchmarks/sorter_drift.py --scenario zigzag --duration 120 --num-units 30 --seed 2
    python benchmarks/sorter_drift.py --mearec-templates drifting_templates.h5 --scenario zigzag --seed 2
"""

from __future__ import annotations

import argparse
import time
import warnings
from pathlib import Path

import si_amortized  # noqa: F401  (registers location_sorter)
from si_amortized.evaluation import accuracy_by_snr, installed_peers, run_sorter_study, summarize_study
from si_amortized.evaluation.figures import plot_sorter_comparison
from si_amortized.evaluation.motion import drift_scenarios, generate_scenario_ground_truth, motion_errors

DEFAULT_PEERS = ("lupin", "spykingcircus2", "tridesclous2")
#: Each peer's switch for its own motion correction (spykingcircus2 has it on by default).
PEER_MOTION = {"lupin": dict(apply_motion_correction=True), "tridesclous2": dict(apply_motion_correction=True),
               "spykingcircus2": dict(apply_motion_correction=True)}


def drift_cases(peers, job_kwargs: dict, dataset: str = "drift") -> dict:
    """``SorterStudy`` cases: the location sorter without and with motion correction, and the peers with it."""
    base = dict(sorter_name="location_sorter", job_kwargs=job_kwargs)
    cases = {
        "location_sorter": dict(label="location_sorter (no correction)", dataset=dataset, params=dict(base)),
        "location_sorter[motion]": dict(label="location_sorter, motion corrected", dataset=dataset,
                                        params=dict(base, apply_motion_correction=True)),
    }
    installed, absent = installed_peers(peers)
    for name, why in absent.items():
        print(f"{name}: absent ({why})")
    for name in installed:
        params = dict(sorter_name=name, job_kwargs=job_kwargs, **PEER_MOTION.get(name, {}))
        cases[name] = dict(label=f"{name}, motion corrected", dataset=dataset, params=params)
    return cases


def ground_truth(args):
    """(recording, gt_sorting, drift info, name) of the requested scenario."""
    scenario = drift_scenarios()[args.scenario]
    if args.mearec_templates is None:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            recording, gt, info = generate_scenario_ground_truth(
                scenario, duration=args.duration, num_channels=64, num_units=args.num_units, seed=args.seed
            )
        return recording, gt, info, f"generation_{args.scenario}_seed{args.seed}"
    from si_amortized.datasets import load_mearec
    from si_amortized.datasets.mearec_drift import drifting_ground_truth
    from si_amortized.evaluation.motion import mearec_scenario_path

    half = args.num_units // 2
    path = mearec_scenario_path(scenario, args.mearec_templates, duration=args.duration, n_exc=args.num_units - half,
                                n_inh=half, noise_level=args.noise, seed=args.seed)
    recording, gt = load_mearec(path)
    return recording, gt, drifting_ground_truth(path), f"mearec_{args.scenario}_seed{args.seed}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="zigzag", choices=sorted(drift_scenarios()))
    parser.add_argument("--duration", type=float, default=120.0)
    parser.add_argument("--num-units", type=int, default=30)
    parser.add_argument("--seed", type=int, default=2)
    parser.add_argument("--noise", type=float, default=10.0, help="MEArec noise level (uV)")
    parser.add_argument("--mearec-templates", type=Path, default=None)
    parser.add_argument("--peers", nargs="*", default=list(DEFAULT_PEERS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path("sorter_drift"))
    args = parser.parse_args()
    job_kwargs = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)

    recording, gt, info, name = ground_truth(args)
    recording = recording.save(folder=args.folder / f"{name}_recording", overwrite=True, **job_kwargs)
    t0 = time.perf_counter()
    study = run_sorter_study(args.folder / f"{name}_study", recording, gt, drift_cases(args.peers, job_kwargs),
                             dataset="drift")
    table = summarize_study(study)
    print(f"\n{name}: {gt.get_num_units()} GT units, {recording.get_total_duration():.0f} s "
          f"({time.perf_counter() - t0:.0f} s in all)")
    print(table[["label", "num_well_detected", "num_sorter", "num_false_positive", "num_redundant",
                 "num_overmerged", "accuracy", "precision", "recall", "run_time_s"]].to_string(float_format="%.3f"))
    from si_amortized.sorters import read_sorter_features

    motion = read_sorter_features(study.folder / "sorters" / "location_sorter[motion]")["motion"]
    errors = motion_errors(motion, info)
    print(f"location sorter's motion estimate: RMS {errors['rms_um']:.2f} um, p95 {errors['p95_um']:.2f} um")
    figure = plot_sorter_comparison(dict(sorters=table, sorters_by_unit=accuracy_by_snr(study),
                                         scenario=dict(name=name)), args.folder / f"{name}_sorters.png")
    print(f"figure: {figure}")


if __name__ == "__main__":
    main()
