"""Benchmark: the location sorter against SpikeInterface's sorters on MEArec ground truth, in one SorterStudy.

Cases (every one through ``run_sorter`` inside ``spikeinterface.benchmark.SorterStudy``, same recording, same
run): the location sorter with a VAE trained on the detected peaks (``localization_kwargs={}``), the
location sorter with the shipped localizer (``localization_kwargs={"model": "pretrained"}``; what its
default, ``{"model": "auto"}``, picks on the packaged probes' layouts), and each of
``--peers`` that is installed (absent ones are listed with the reason). Prints, per recording:
well-detected units (accuracy >= 0.8), units found, false-positive / redundant / overmerged units, mean
accuracy, precision, recall and wall time (``compare_sorter_to_ground_truth``), and writes a figure per
recording with each ground-truth unit's accuracy against its SNR.

Usage::

    python benchmarks/sorter_study.py --recording rec_20uv.h5 rec_30uv.h5 --peers tridesclous2 lupin
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import si_amortized  # noqa: F401  (registers location_sorter)
from si_amortized.datasets import load_mearec
from si_amortized.evaluation import accuracy_by_snr, installed_peers, run_sorter_study, sorter_cases, summarize_study
from si_amortized.evaluation.figures import plot_sorter_comparison

DEFAULT_PEERS = ("tridesclous2", "spykingcircus2", "lupin")


def study_cases(peers, job_kwargs: dict) -> dict:
    """Location sorter (trained and shipped localizer) and the installed peers, as SorterStudy cases."""
    cases = sorter_cases("gt", localization_methods=("vae",), internal_sorter=None, peers=peers,
                         job_kwargs=job_kwargs)
    pretrained = dict(cases["location_sorter[vae]"])
    pretrained["params"] = dict(pretrained["params"], localization_kwargs={"model": "pretrained"})
    pretrained["label"] = "locations: vae pretrained"
    cases["location_sorter[vae pretrained]"] = pretrained
    return cases


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, nargs="+", required=True, help="MEArec .h5 files")
    parser.add_argument("--peers", nargs="*", default=list(DEFAULT_PEERS))
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--folder", type=Path, default=Path("sorter_study"))
    args = parser.parse_args()
    _, absent = installed_peers(args.peers)
    for name, why in absent.items():
        print(f"{name}: absent ({why})")
    job_kwargs = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)
    for path in args.recording:
        recording, gt = load_mearec(path)
        recording = recording.save(folder=args.folder / f"{path.stem}_recording", overwrite=True, **job_kwargs)
        t0 = time.perf_counter()
        study = run_sorter_study(args.folder / f"{path.stem}_study", recording, gt, study_cases(args.peers, job_kwargs))
        table = summarize_study(study)
        print(f"\n{path.name}: {gt.get_num_units()} GT units, {recording.get_total_duration():.0f} s "
              f"({time.perf_counter() - t0:.0f} s in all)")
        print(table[["label", "num_well_detected", "num_sorter", "num_false_positive", "num_redundant",
                     "num_overmerged", "accuracy", "precision", "recall", "run_time_s", "peak_memory_mb",
                     "added_memory_mb"]].to_string(float_format="%.3f"))
        by_unit = accuracy_by_snr(study)
        figure = plot_sorter_comparison(dict(sorters=table, sorters_by_unit=by_unit, scenario=dict(name=path.stem)),
                                        args.folder / f"{path.stem}_sorters.png")
        print(f"figure: {figure}")


if __name__ == "__main__":
    main()
