"""Benchmark: motion estimation (``correct_motion``, preset nonrigid_fast_and_accurate unless ``--preset``) with
each peak localizer.

Drifting recordings from ``spikeinterface.generation.generate_drifting_recording`` on an NP1-like probe, in the
scenarios of ``si_amortized.evaluation.motion.drift_scenarios`` (slow rigid zigzag, rigid jumps, non-rigid
zigzag). For each scenario and localization method: RMS and 95th percentile of the displacement error over
time bins and depths (offset removed per depth), the RMS away from jumps of the truth (the bins that
straddle a step, 2 on each side, left out: ``step_bins``), the wall time of ``correct_motion`` (VAE training
included) and the localizer's own part of it (its node's construction, the VAE's training included, and
its compute; with ``--n-jobs 1``), with ratios against monopolar_triangulation measured in the same run. ``--methods`` also takes ``vae_pretrained`` (the shipped localizer, no training).

Results are written as they come (a stop loses nothing done): ``results.csv``, ``table.md``,
``motion_<scenario>.png`` (estimated vs true displacement) and ``motions/<scenario>/<method>/`` (the Motion
objects) in ``--output``.

Examples
--------
python benchmarks/motion.py --output /tmp/motion_bench                    # 3 scenarios, 60 s, 64 ch, 30 units
python benchmarks/motion.py --duration 45 --num-channels 48 --num-units 20 --output /tmp/motion_bench
python benchmarks/motion.py --scenarios nonrigid --methods center_of_mass vae
python benchmarks/motion.py --quick --output /tmp/motion_quick            # one scenario, 12 s, 32 ch: < 2 min
python benchmarks/motion.py --mearec --duration 90 --num-units 20 --output /tmp/motion_mearec   # biophysical cells
python benchmarks/motion.py --preset dredge_fast --output /tmp/motion_dredge   # SpikeInterface's default estimator
python benchmarks/motion.py --summarize out_seed1 out_seed2 out_seed3          # mean over seeds, paired to monopolar
"""

from __future__ import annotations

import argparse
import gc
import json
import shutil
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import si_amortized  # noqa: F401  (registers the "vae" localization method)
from si_amortized.evaluation.motion import (
    MOTION_METHODS,
    PRESET,
    REFERENCE_METHOD,
    add_reference_ratios,
    drift_scenarios,
    format_motion_table,
    plot_motion,
    run_motion_benchmark,
)
from si_amortized.evaluation.seed_summary import paired_over_seeds


def parse_args(argv=None):
    scenarios = drift_scenarios()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenarios", nargs="+", choices=list(scenarios), default=list(scenarios))
    parser.add_argument("--methods", nargs="+", default=list(MOTION_METHODS))
    parser.add_argument("--duration", type=float, default=60.0, help="seconds per recording")
    parser.add_argument("--num-channels", type=int, default=64, help="NP1-like probe channels (multiple of 4)")
    parser.add_argument("--num-units", type=int, default=30)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--vae-half-width", type=float, default=40.0, help="half_width_um of the 'vae' method")
    parser.add_argument("--vae-kwargs", type=json.loads, default={},
                        help='more settings of the VAE methods that train (vae, vae_gaussian), JSON, e.g. '
                             '\'{"training_chunks": 40}\'')
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--preset", default=PRESET,
                        help="correct_motion preset (its localizer replaced by each method), e.g. dredge_fast")
    parser.add_argument("--estimate-kwargs", type=json.loads, default={},
                        help='estimator settings over the preset\'s, JSON, the same for every method, e.g. '
                             '\'{"histogram_depth_smooth_um": 3}\'')
    parser.add_argument("--output", type=Path, default=Path("motion_benchmark"))
    parser.add_argument("--no-gc-freeze", action="store_true",
                        help="do not gc.freeze() the imported modules: SpikeInterface's decentralized estimator "
                             "calls gc.collect() ~40 times, ~0.35 s each with torch imported (the same for "
                             "every method)")
    parser.add_argument("--mearec", action="store_true",
                        help="MEArec recordings of biophysical cells (drifting NEURON templates on the Neuropixels-64 "
                             "layout, --num-units cells, half inhibitory) drifting as each scenario says, instead of "
                             "spikeinterface.generation's; needs the simulation extra (templates simulated once, "
                             "cached: about 15 min on one core)")
    parser.add_argument("--mearec-templates", type=Path, default=None,
                        help="drifting MEArec templates .h5 to use with --mearec (default: simulate_drifting_templates())")
    parser.add_argument("--quick", action="store_true", help="smoke run: zigzag only, 12 s, 32 channels, 8 units")
    parser.add_argument("--summarize", nargs="+", default=None, metavar="RUN",
                        help="only summarise earlier runs over seeds: each RUN is an --output folder, or several "
                             "joined by commas (runs of one seed with other methods); prints each method's mean "
                             "RMS and its paired difference to monopolar_triangulation over the RUNs")
    args = parser.parse_args(argv)
    if args.quick:
        args.scenarios, args.duration, args.num_channels, args.num_units = ["zigzag"], 12.0, 32, 8
    return args


class ResultWriter:
    """Writes results.csv, table.md, the figures and the Motion objects after each (scenario, method)."""

    def __init__(self, output: Path):
        self.output = output
        self.rows = []
        self.motions = {}
        output.mkdir(parents=True, exist_ok=True)

    def __call__(self, row, motion, info):
        self.rows.append(row)
        self.motions.setdefault(row["scenario"], {})[row["method"]] = motion
        print(f"  {row['scenario']:<10} {row['method']:<24} RMS {row['rms_um']:6.2f} um  p95 {row['p95_um']:6.2f} um"
              f"  away from jumps {row['rms_steady_um']:6.2f} um"
              f"  wall {row['wall_s']:7.1f} s  localization {row['localize_s']:6.1f} s  ({row['num_peaks']} peaks)",
              flush=True)
        folder = self.output / "motions" / row["scenario"] / row["method"]
        if folder.exists():
            shutil.rmtree(folder)
        motion.save(folder)
        table = self.table()
        table.to_csv(self.output / "results.csv", index=False)
        (self.output / "table.md").write_text(format_motion_table(table))
        title = f"{row['scenario']}: estimated vs true displacement"
        fig = plot_motion(self.motions[row["scenario"]], info, title=title)
        fig.savefig(self.output / f"motion_{row['scenario']}.png", dpi=110)

    def table(self) -> pd.DataFrame:
        return add_reference_ratios(pd.DataFrame(self.rows))


def summarize_runs(runs) -> str:
    """Mean RMS per (scenario, method) over seeds, the paired difference to monopolar, and the localization speed.

    ``runs``: one entry per seed, each an ``--output`` folder or several joined by commas.
    """
    tables = []
    for seed, run in enumerate(runs):
        for folder in run.split(","):
            tables.append(pd.read_csv(Path(folder) / "results.csv").assign(seed=seed))
    table = pd.concat(tables, ignore_index=True)
    summary = paired_over_seeds(table, REFERENCE_METHOD)
    timed = table.dropna(subset=["localize_s"])
    ref_time = timed[timed["method"] == REFERENCE_METHOD].set_index(["scenario", "seed"])["localize_s"]
    lines = [f"mean RMS (um) over {len(runs)} seeds; difference to {REFERENCE_METHOD} [95 % bootstrap over seeds], "
             "seeds at or below it; localization speed x monopolar (summed times of the runs with both)", ""]
    scenarios = list(dict.fromkeys(summary["scenario"]))
    lines.append("| method | " + " | ".join(scenarios) + " | localization speed |")
    lines.append("| --- " * (len(scenarios) + 2) + "|")
    for method in dict.fromkeys(summary["method"]):
        cells = []
        for scenario in scenarios:
            r = summary[(summary["scenario"] == scenario) & (summary["method"] == method)]
            if r.empty:
                cells.append("")
                continue
            r = r.iloc[0]
            cells.append(f"{r['mean']:.2f}" if np.isnan(r["difference"]) else
                         f"{r['mean']:.2f}: {r['difference']:+.2f} [{r['low']:+.2f}, {r['high']:+.2f}], "
                         f"{r['at_or_below']}/{r['num_seeds']}")
        own = timed[timed["method"] == method].set_index(["scenario", "seed"])["localize_s"]
        both = own.index.intersection(ref_time.index)
        speed = f"{ref_time.loc[both].sum() / own.loc[both].sum():.1f}x" if both.size else ""
        lines.append(f"| {method} | " + " | ".join(cells) + f" | {speed} |")
    return "\n".join(lines)


def main(argv=None):
    args = parse_args(argv)
    if args.summarize:
        print(summarize_runs(args.summarize))
        return
    warnings.filterwarnings("ignore", message="the 'vae' localizer ignores")
    scenarios = drift_scenarios()
    chosen = [scenarios[name] for name in args.scenarios]
    source = ("MEArec, Neuropixels-64" if args.mearec
              else f"spikeinterface.generation, {args.num_channels} channels (NP1-like)")
    print(f"motion benchmark: {args.duration:g} s, {source}, {args.num_units} units, "
          f"seed {args.seed}, preset {args.preset}, n_jobs {args.n_jobs}, "
          f"vae half_width_um {args.vae_half_width:g}"
          + (f", vae settings {json.dumps(args.vae_kwargs)}" if args.vae_kwargs else "")
          + (f", estimator settings {json.dumps(args.estimate_kwargs)}" if args.estimate_kwargs else ""))
    for s in chosen:
        print(f"  {s.name}: {s.description}")
    if not args.no_gc_freeze:
        gc.collect()
        gc.freeze()
    templates = None
    if args.mearec:
        from si_amortized.datasets.mearec_drift import simulate_drifting_templates

        t0 = time.perf_counter()
        templates = args.mearec_templates or simulate_drifting_templates("Neuropixels-64", n_per_cell=3, seed=1)
        print(f"MEArec drifting templates: {templates} ({time.perf_counter() - t0:.0f} s)")
    writer = ResultWriter(args.output)
    t0 = time.perf_counter()
    run_motion_benchmark(
        chosen, methods=args.methods, duration=args.duration, num_channels=args.num_channels,
        num_units=args.num_units, seed=args.seed, vae_kwargs={**dict(half_width_um=args.vae_half_width, seed=args.seed), **args.vae_kwargs},
        job_kwargs=dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False), on_result=writer,
        mearec_templates=templates, preset=args.preset, estimate_motion_kwargs=args.estimate_kwargs,
    )
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; speed x monopolar = monopolar wall time / wall time "
          "(whole correct_motion; localization: the localizer's own time), RMS x monopolar = RMS / monopolar "
          "RMS (same scenario, same run)\n")
    print(format_motion_table(writer.table()))
    print(f"results, table and figures in {args.output}")


if __name__ == "__main__":
    main()
