"""The ``si-amortized`` command: ``simulate`` ground truth, run the ``demo``, run the ground-truth ``benchmark``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _add_simulate(subparsers) -> None:
    sim = subparsers.add_parser("simulate", help="simulate MEArec templates or a ground-truth recording to a file")
    what = sim.add_subparsers(dest="what", required=True)

    tpl = what.add_parser("templates", help="simulate templates with NEURON (needs the simulation extra)")
    tpl.add_argument("--probe", default="SqMEA-10-15", help="MEAutility probe name (default: SqMEA-10-15)")
    tpl.add_argument("--n-per-cell", type=int, default=30, help="templates per BBP cell model (default: 30)")
    tpl.add_argument("--cell-models", nargs="*", default=None, help="m-types to simulate (default: all 13)")
    tpl.add_argument("--seed", type=int, default=0)
    tpl.add_argument("--n-jobs", type=int, default=1)
    tpl.add_argument("--output", type=Path, required=True, help="output .npz template library")

    rec = what.add_parser("recording", help="simulate a MEArec recording (.h5) from a template library")
    rec.add_argument("--probe", default="SqMEA-10-15")
    rec.add_argument("--templates", type=Path, default=None, help=".npz library or MEArec templates .h5 (default: packaged)")
    rec.add_argument("--n-exc", type=int, default=8)
    rec.add_argument("--n-inh", type=int, default=2)
    rec.add_argument("--duration", type=float, default=10.0, help="seconds (default: 10)")
    rec.add_argument("--noise-level", type=float, default=10.0, help="uV (default: 10)")
    rec.add_argument("--noise-mode", default="uncorrelated", choices=["uncorrelated", "distance-correlated", "far-neurons"])
    rec.add_argument("--min-dist", type=float, default=15.0, help="minimum soma distance in um (default: 15)")
    rec.add_argument("--seed", type=int, default=0)
    rec.add_argument("--output", type=Path, required=True, help="output MEArec .h5 file")


def _run_simulate(args) -> None:
    from . import datasets

    if args.what == "templates":
        library = datasets.simulate_templates(
            args.probe, n_per_cell=args.n_per_cell, cell_models=args.cell_models, seed=args.seed, n_jobs=args.n_jobs
        )
        path = library.save(args.output)
        print(f"{len(library.templates)} templates for {args.probe} -> {path}")
    else:
        path = datasets.simulate_recording(
            args.probe, templates=args.templates, n_exc=args.n_exc, n_inh=args.n_inh, duration=args.duration,
            noise_level=args.noise_level, noise_mode=args.noise_mode, min_dist=args.min_dist, seed=args.seed,
            output=args.output, overwrite=True,
        )
        recording, sorting = datasets.load_mearec(path)
        print(
            f"{path}: {recording.get_num_channels()} channels, {recording.get_total_duration():.1f} s at "
            f"{recording.sampling_frequency:.0f} Hz, {sorting.get_num_units()} ground-truth units"
        )


def _add_demo(subparsers) -> None:
    demo = subparsers.add_parser("demo", help="simulate a short recording and run the plugin's extensions on it")
    demo.add_argument("--probe", default="SqMEA-10-15", choices=["SqMEA-10-15", "Neuropixels-64"])
    demo.add_argument("--duration", type=float, default=20.0, help="seconds (default: 20)")
    demo.add_argument("--n-exc", type=int, default=12)
    demo.add_argument("--n-inh", type=int, default=4)
    demo.add_argument("--noise-level", type=float, default=10.0)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--n-jobs", type=int, default=1)
    demo.add_argument("--folder", type=Path, default=None, help="save the analyzer here (binary_folder)")


def _add_benchmark(subparsers) -> None:
    bench = subparsers.add_parser(
        "benchmark", help="ground-truth benchmark of the plugin's methods against SpikeInterface's, as a report folder"
    )
    bench.add_argument("--scenario", default="sqmea-10uv",
                       help="scenario(s) or group, comma-separated: sqmea-{10,20,30}uv, np64-{10,20,30}uv, sqmea, np64, all "
                            "(default: sqmea-10uv)")
    bench.add_argument("--output", type=Path, required=True, help="report folder (report.md, figures/, results.json)")
    size = bench.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="20 s recordings, fewer epochs and GMM sizes (< 10 min on 2 cores)")
    size.add_argument("--tiny", action="store_true", help="10 cells, 5 s: a smoke test (CI)")
    bench.add_argument("--sections", default=None,
                       help="comma-separated subset of localization,gmm,sorters,generalization,nemo,rollae,scale (default: all)")
    bench.add_argument("--scale-duration", type=float, default=None,
                       help="seconds of the lazy Neuropixels-64 recording of the memory section (default: 600; 10 with --tiny)")
    bench.add_argument("--methods", default=None,
                       help="localization methods (default: vae,center_of_mass,monopolar_triangulation,grid_convolution)")
    bench.add_argument("--internal-sorter", default="tridesclous2", help="SpikeInterface sorter to compare ('none' to skip)")
    bench.add_argument("--vae-epochs", type=int, default=None, help="VAE training epochs (default: by size)")
    bench.add_argument("--seed", type=int, default=None, help="overrides the scenarios' seed and the benchmark's seed")
    bench.add_argument("--n-jobs", type=int, default=1, help="SpikeInterface n_jobs inside each evaluation")
    bench.add_argument("--dask", action="store_true", help="evaluate scenarios as tasks on a Dask LocalCluster")
    bench.add_argument("--scheduler", default=None, help="address of a Dask scheduler (implies --dask)")
    bench.add_argument("--n-workers", type=int, default=2, help="workers of the local Dask cluster (default: 2)")
    bench.add_argument("--no-progress", action="store_true", help="no progress bars")


def _run_benchmark(args) -> None:
    from .evaluation import BenchmarkConfig, get_scenarios, run_benchmark

    size = "tiny" if args.tiny else ("quick" if args.quick else "full")
    kwargs = dict(size=size, internal_sorter=None if args.internal_sorter.lower() == "none" else args.internal_sorter,
                  vae_epochs=args.vae_epochs, job_kwargs=dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False))
    if args.sections:
        kwargs["sections"] = tuple(s.strip() for s in args.sections.split(",") if s.strip())
    if args.methods:
        kwargs["localization_methods"] = tuple(m.strip() for m in args.methods.split(",") if m.strip())
    if args.seed is not None:
        kwargs["seed"] = args.seed
    if args.scale_duration is not None:
        kwargs["scale_duration_s"] = args.scale_duration
    config = BenchmarkConfig(**kwargs)
    scenarios = get_scenarios(args.scenario, size=size, seed=args.seed)
    report = run_benchmark(scenarios, args.output, config=config, dask=args.dask, scheduler=args.scheduler,
                           n_workers=args.n_workers, progress=not args.no_progress)
    print(f"Report: {report}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="si-amortized",
        description="Amortized deep-learning methods for extracellular electrophysiology, on SpikeInterface.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_simulate(subparsers)
    _add_demo(subparsers)
    _add_benchmark(subparsers)
    args = parser.parse_args(argv)
    try:
        if args.command == "simulate":
            _run_simulate(args)
        elif args.command == "benchmark":
            _run_benchmark(args)
        elif args.command == "demo":
            from .demo import run_demo

            run_demo(
                probe=args.probe, duration=args.duration, n_exc=args.n_exc, n_inh=args.n_inh,
                noise_level=args.noise_level, seed=args.seed, n_jobs=args.n_jobs, folder=args.folder,
            )
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as error:
        print(f"si-amortized {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
