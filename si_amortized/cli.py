"""The ``si-amortized`` command: ``simulate`` ground truth, run the ``demo``, run the ground-truth ``benchmark``."""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

from .demo import DEFAULT_FIGURES_FOLDER


def _number(text: str, kind, minimum: float, strict: bool):
    """``kind(text)`` if it is finite and above (``strict``) or at least ``minimum``, else an argparse error."""
    try:
        value = kind(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid {kind.__name__} value: {text!r}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    if value < minimum or (strict and value == minimum):
        raise argparse.ArgumentTypeError(f"{text} must be {'>' if strict else '>='} {minimum:g}")
    return value


def positive_float(text: str) -> float:
    """argparse type: a finite float > 0 (durations)."""
    return _number(text, float, 0.0, strict=True)


def non_negative_float(text: str) -> float:
    """argparse type: a finite float >= 0 (noise levels, distances)."""
    return _number(text, float, 0.0, strict=False)


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0 (cell counts, seeds)."""
    return _number(text, int, 0, strict=False)


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1 (epochs, workers, templates per cell)."""
    return _number(text, int, 1, strict=False)


def _add_cell_arguments(parser, *, n_exc: int, n_inh: int, duration: float, noise_level: float) -> None:
    """``--n-exc``, ``--n-inh``, ``--duration``, ``--noise-level`` with their checks (see :func:`_check_cells`)."""
    parser.add_argument("--n-exc", type=non_negative_int, default=n_exc, help=f"excitatory cells (default: {n_exc})")
    parser.add_argument("--n-inh", type=non_negative_int, default=n_inh, help=f"inhibitory cells (default: {n_inh})")
    parser.add_argument("--duration", type=positive_float, default=duration, help=f"seconds, > 0 (default: {duration:g})")
    parser.add_argument("--noise-level", type=non_negative_float, default=noise_level,
                        help=f"noise standard deviation in uV, >= 0 (default: {noise_level:g})")
    parser.set_defaults(_cells_parser=parser)


def _check_cells(args) -> None:
    """At least one cell: the argparse error of the subcommand that has ``--n-exc`` / ``--n-inh``."""
    parser = getattr(args, "_cells_parser", None)
    if parser is not None and args.n_exc + args.n_inh < 1:
        parser.error("--n-exc and --n-inh are both 0: give at least one cell (e.g. --n-exc 1)")


def _add_simulate(subparsers) -> None:
    sim = subparsers.add_parser("simulate", help="simulate MEArec templates or a ground-truth recording to a file")
    what = sim.add_subparsers(dest="what", required=True)

    tpl = what.add_parser("templates", help="simulate templates with NEURON (needs the simulation extra)")
    tpl.add_argument("--probe", default="SqMEA-10-15", help="MEAutility probe name (default: SqMEA-10-15)")
    tpl.add_argument("--n-per-cell", type=positive_int, default=30, help="templates per BBP cell model (default: 30)")
    tpl.add_argument("--cell-models", nargs="*", default=None, help="m-types to simulate (default: all 13)")
    tpl.add_argument("--seed", type=non_negative_int, default=0)
    tpl.add_argument("--n-jobs", type=int, default=1)
    tpl.add_argument("--output", type=Path, required=True, help="output .npz template library")

    rec = what.add_parser("recording", help="simulate a MEArec recording (.h5) from a template library")
    rec.add_argument("--probe", default="SqMEA-10-15")
    rec.add_argument("--templates", type=Path, default=None, help=".npz library or MEArec templates .h5 (default: packaged)")
    _add_cell_arguments(rec, n_exc=8, n_inh=2, duration=10.0, noise_level=10.0)
    rec.add_argument("--noise-mode", default="uncorrelated", choices=["uncorrelated", "distance-correlated", "far-neurons"])
    rec.add_argument("--min-dist", type=non_negative_float, default=15.0, help="minimum soma distance in um (default: 15)")
    rec.add_argument("--seed", type=non_negative_int, default=0)
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
    _add_cell_arguments(demo, n_exc=12, n_inh=4, duration=20.0, noise_level=10.0)
    demo.add_argument("--seed", type=non_negative_int, default=0)
    demo.add_argument("--n-jobs", type=int, default=1)
    demo.add_argument("--folder", type=Path, default=None, help="save the analyzer here (binary_folder)")
    demo.add_argument("--figures", type=Path, default=Path(DEFAULT_FIGURES_FOLDER),
                      help=f"folder for one figure per method (default: ./{DEFAULT_FIGURES_FOLDER})")


def _add_benchmark(subparsers) -> None:
    bench = subparsers.add_parser(
        "benchmark", help="ground-truth benchmark of the plugin's methods against SpikeInterface's, as a report folder"
    )
    bench.add_argument("--scenario", default="sqmea-10uv",
                       help="scenario(s) or group, comma-separated: sqmea-{10,20,30}uv, np64-{10,20,30}uv, sqmea, np64, all "
                            "(default: sqmea-10uv)")
    bench.add_argument("--output", type=Path, default=None,
                       help="report folder (report.md, figures/, results.json; default: "
                            "./si_amortized_benchmark_<scenario> in the current directory)")
    size = bench.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="20 s recordings, fewer epochs and GMM sizes (< 10 min on 2 cores)")
    size.add_argument("--tiny", action="store_true", help="10 cells, 5 s: a smoke test (CI)")
    bench.add_argument("--sections", default=None,
                       help="comma-separated subset of localization,gmm,sorters,generalization,nemo,rollae,scale (default: all)")
    bench.add_argument("--scale-duration", type=positive_float, default=None,
                       help="seconds of the lazy Neuropixels-64 recording of the memory section (default: 600; 10 with --tiny)")
    bench.add_argument("--methods", default=None,
                       help="localization methods (default: vae,center_of_mass,monopolar_triangulation,grid_convolution)")
    bench.add_argument("--internal-sorter", default="tridesclous2", help="SpikeInterface sorter to compare ('none' to skip)")
    bench.add_argument("--vae-epochs", type=positive_int, default=None, help="VAE training epochs (default: by size)")
    bench.add_argument("--seed", type=non_negative_int, default=None, help="overrides the scenarios' seed and the benchmark's seed")
    bench.add_argument("--n-jobs", type=int, default=1, help="SpikeInterface n_jobs inside each evaluation")
    bench.add_argument("--dask", action="store_true", help="evaluate scenarios as tasks on a Dask LocalCluster")
    bench.add_argument("--scheduler", default=None, help="address of a Dask scheduler (implies --dask)")
    bench.add_argument("--n-workers", type=positive_int, default=2, help="workers of the local Dask cluster (default: 2)")
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
    output = args.output if args.output is not None else default_benchmark_output(args.scenario)
    report = run_benchmark(scenarios, output, config=config, dask=args.dask, scheduler=args.scheduler,
                           n_workers=args.n_workers, progress=not args.no_progress)
    print(f"Report: {report}")
    print(f"Report folder: {Path(output).resolve()}")


def default_benchmark_output(scenario: str) -> Path:
    """``./si_amortized_benchmark_<scenario>``: the report folder when ``--output`` is not given.

    Parameters
    ----------
    scenario : str
        The ``--scenario`` text; characters other than letters, digits, ``-`` and ``.`` become ``_``.

    Returns
    -------
    Path
        Absolute, in the current working directory.
    """
    name = re.sub(r"[^A-Za-z0-9.-]+", "_", scenario.strip()).strip("_") or "default"
    return Path.cwd() / f"si_amortized_benchmark_{name}"


def build_parser() -> argparse.ArgumentParser:
    """The ``si-amortized`` argument parser (subcommands ``simulate``, ``demo``, ``benchmark``)."""
    parser = argparse.ArgumentParser(
        prog="si-amortized",
        description="Amortized deep-learning methods for extracellular electrophysiology, on SpikeInterface.",
    )
    subparsers = parser.add_subparsers(dest="command", required=True)
    _add_simulate(subparsers)
    _add_demo(subparsers)
    _add_benchmark(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    _check_cells(args)
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
                figures=args.figures,
            )
    except (ValueError, FileNotFoundError, ImportError, RuntimeError) as error:
        print(f"si-amortized {args.command}: error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
