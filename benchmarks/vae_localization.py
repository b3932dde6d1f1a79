"""Benchmark: VAE spike localization vs SpikeInterface's and DARTsort's localizers on MEArec ground truth.

Every localizer runs on the same ground-truth spikes in the same run: SpikeInterface's
center_of_mass, monopolar_triangulation and grid_convolution; DARTsort's point-source, dipole and
amortized localizers when the optional ``dartsort`` package is installed (listed absent otherwise);
the VAE trained unsupervised on the recording (the default), the shipped ``model="pretrained"``
localizer when one fits the layout, and a localizer trained on simulated spikes of the packaged
template library minus the recording's own cells (no leakage).

Prints, per noise level: the 2D error to the soma, mean (median), per stratum (all spikes, isolated,
colliding within 1 ms, soma over the array, soma outside, isolated with the soma over the array), the
mean |z| error and the per-unit correlation of z with the soma's distance, the posterior coverage
(share of somas within 1 and 2 reported standard deviations), the point-source floor (every spike placed at the point source fitted by least squares
to its unit's average template: the error of the amplitude model itself, without noise or
collisions), throughput (spikes/s; VAE training and inference separately) with ratios to
center_of_mass measured in the same run, and GMM sorting from locations (and locations + 2
whitened PCs) scored with ``compare_sorter_to_ground_truth``: the full-covariance GMMs of
``si_amortized.evaluation.gmm_sorting``, as in the benchmark report.

Examples
--------
python benchmarks/vae_localization.py                       # SqMEA-10-15, 50 cells, 60 s, 10 uV
python benchmarks/vae_localization.py --noise 10 20 30
python benchmarks/vae_localization.py --probe Neuropixels-64
python benchmarks/vae_localization.py --seed 11 21 31 --no-sorting  # one recording per seed, then a summary
python benchmarks/vae_localization.py --quick               # 10 cells, 10 s
python benchmarks/vae_localization.py --paper               # also the paper's settings
python benchmarks/vae_localization.py --recording FILE.h5     # a given MEArec recording
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import si_amortized  # noqa: F401  (registers vae_locations)
from si_amortized.datasets import load_mearec
from si_amortized.evaluation.localization_recordings import localization_benchmark_recording
from si_amortized.evaluation.point_source_fit import AMPLITUDE_MODELS, fit_template_sources
from si_amortized.evaluation.localization_strata import format_across_recordings, summarize_across_recordings
from si_amortized.localization.config import PAPER_SETTINGS

BASELINES = ["center_of_mass", "monopolar_triangulation", "grid_convolution"]


def gmm_table(recording, gt_sorting, spikes, main_channels, results, args, job):
    """GMM sorting from each method's locations, alone and with 2 whitened PCs: the benchmark report's scoring."""
    from spikeinterface.core.node_pipeline import base_peak_dtype

    from si_amortized.evaluation.gmm_sorting import accuracy_vs_components, location_features, whitened_waveform_pcs

    print("\nGMM sorting from locations (full covariance, as the benchmark report; spikes without a location are "
          "unassigned; mean accuracy / precision / recall over GT units)")
    peaks = np.zeros(spikes.size, dtype=base_peak_dtype)
    peaks["sample_index"], peaks["segment_index"] = spikes["sample_index"], spikes["segment_index"]
    peaks["channel_index"] = main_channels[spikes["unit_index"]]
    pcs = whitened_waveform_pcs(recording, peaks, n_pcs=2, seed=args.seed, job_kwargs=job)
    grid = args.components(gt_sorting.get_num_units())

    def best(features_list):
        rows = [r for f in features_list for r in accuracy_vs_components(gt_sorting, peaks, f, grid, seed=args.seed)]
        top = max(rows, key=lambda r: r["accuracy"])
        return f"{top['accuracy']:.3f} / {top['precision']:.3f} / {top['recall']:.3f}"

    for name, loc in results.items():
        alone = best([location_features(loc)])
        with_pcs = best([location_features(loc, pcs, alpha) for alpha in (4, 6, 8, 10)])
        print(f"  {name:<26} locations: {alone}   + 2 PCs: {with_pcs}")


def run_one(path, args):
    import spikeinterface.core as sc

    from si_amortized.evaluation.localization import simulated_localizer_without_recording_templates
    from si_amortized.evaluation.localization_strata import (
        format_coverage_table,
        format_strata_table,
        spike_strata,
        stratified_errors,
    )

    recording, gt_sorting = load_mearec(path)
    if args.max_duration is not None:
        end = int(min(args.max_duration * recording.sampling_frequency, recording.get_num_samples()))
        gt_locations = gt_sorting.get_property("gt_unit_locations")
        recording = recording.frame_slice(0, end)
        gt_sorting = gt_sorting.frame_slice(0, end)
        gt_sorting.set_property("gt_unit_locations", gt_locations)
    recording = recording.save(format="memory", n_jobs=1, progress_bar=False) if args.in_memory else recording
    job = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)
    analyzer = sc.create_sorting_analyzer(gt_sorting, recording, sparse=False, format="memory")
    analyzer.compute(["random_spikes", "templates"], **job)
    spikes = gt_sorting.to_spike_vector()
    num_spikes = spikes.size
    contacts = recording.get_channel_locations()
    strata = spike_strata(gt_sorting, contacts)
    print(
        f"{path.name} ({recording.get_total_duration():.0f} s): {gt_sorting.get_num_units()} units, {num_spikes} spikes, "
        f"{np.mean(strata['colliding']):.0%} with another spike within 1 ms, "
        f"{np.mean(strata['outside']):.0%} of spikes from somas outside the array"
    )

    results, timings = {}, {}
    for method in BASELINES:
        t0 = time.perf_counter()
        ext = analyzer.compute("spike_locations", method=method, save=False, **job)
        timings[method] = time.perf_counter() - t0
        results[method] = ext.get_data()
        print(f"  {method} done in {timings[method]:.1f} s", flush=True)
    main_channels = analyzer.get_main_channels(outputs="index")[spikes["unit_index"]]
    run_dartsort_peers(recording, spikes, main_channels, results, timings, args)

    vae_kwargs = dict(epochs=args.epochs, batch_size=args.batch_size, seed=args.seed, half_width_um=args.half_width)
    t0 = time.perf_counter()
    ext = analyzer.compute("vae_locations", save=False, **vae_kwargs, **job)
    total = time.perf_counter() - t0
    model = ext.get_model()
    t0 = time.perf_counter()
    results["vae"] = analyzer.compute("vae_locations", model=model, save=False, **job).get_data()
    timings["vae (inference)"] = time.perf_counter() - t0
    timings["vae (training)"] = total - timings["vae (inference)"]
    timings["vae (end-to-end)"] = total
    print(f"  vae done: {total:.1f} s end-to-end", flush=True)
    try:
        t0 = time.perf_counter()
        results["vae pretrained"] = analyzer.compute("vae_locations", model="pretrained", save=False, **job).get_data()
        timings["vae pretrained (inference)"] = time.perf_counter() - t0
        print("  vae pretrained done", flush=True)
    except ValueError as error:
        print(f"  vae pretrained: none fits this layout ({str(error).splitlines()[0]})")
    if not args.no_simulated:
        t0 = time.perf_counter()
        simulated, excluded = simulated_localizer_without_recording_templates(
            gt_sorting, args.probe, seed=args.seed, half_width_um=args.half_width,
        )
        timings["vae simulation-trained (training)"] = time.perf_counter() - t0
        results["vae simulation-trained"] = analyzer.compute(
            "vae_locations", model=simulated, save=False, **job
        ).get_data()
        print(f"  vae simulation-trained on the packaged library minus this recording's {excluded} cells: "
              f"{timings['vae simulation-trained (training)']:.0f} s training", flush=True)
    if args.paper:
        paper_kwargs = dict(vae_kwargs, **PAPER_SETTINGS)
        t0 = time.perf_counter()
        results["vae paper settings"] = analyzer.compute("vae_locations", save=False, **paper_kwargs, **job).get_data()
        timings["vae paper settings (end-to-end)"] = time.perf_counter() - t0
        print("  vae with the paper's settings done", flush=True)

    print("\nError to the soma (um): 2D mean (median) per stratum; |z| error, per-unit z correlation and posterior "
          "coverage on all spikes")
    table = {name: stratified_errors(loc, gt_sorting, strata) for name, loc in results.items()}
    print(format_strata_table(table))
    print("\nPosterior coverage on all spikes, with its 95 % interval over resamples of the recording's units (the "
          "errors are mostly a bias per unit, so a recording of a few dozen units moves the coverage by several points)")
    print(format_coverage_table(table))
    for name, res in table.items():
        if res["num_non_finite"]:
            print(f"  {name}: {res['num_non_finite']} spikes without a finite location")
    print("\nReference, not a localizer: every spike at the point source fitted to its unit's average template")
    templates = analyzer.get_extension("templates").get_data()
    floors = {}
    for amplitude_model in AMPLITUDE_MODELS:
        sources = fit_template_sources(templates, contacts, half_width_um=args.half_width, model=amplitude_model)
        floor = np.zeros(num_spikes, dtype=[("x", "float64"), ("y", "float64")])
        floor["x"], floor["y"] = sources[spikes["unit_index"], 0], sources[spikes["unit_index"], 1]
        floors[f"floor: {amplitude_model}"] = stratified_errors(floor, gt_sorting, strata)
    print(format_strata_table(floors))

    print("\nThroughput (spikes/s, n_jobs=%d) and ratio to center_of_mass" % args.n_jobs)
    com_rate = num_spikes / timings["center_of_mass"]
    for name, seconds in timings.items():
        rate = num_spikes / seconds
        print(f"  {name:<36} {seconds:7.2f} s  {rate:10.0f} spikes/s  x{rate / com_rate:5.2f}")
    print(f"  (VAE trained on {model.metadata['num_training_spikes']} spikes, {model.metadata['num_training_examples']} examples, "
          f"{args.epochs} epochs)")

    if not args.no_sorting:
        gmm_table(recording, gt_sorting, spikes, analyzer.get_main_channels(), results, args, job)
    return table


def run_dartsort_peers(recording, spikes, main_channels, results, timings, args):
    """DARTsort's localizers on the same spikes, when the optional package is installed (else listed absent)."""
    from si_amortized.evaluation.localization_peers import (
        dartsort_amortized_locations,
        dartsort_point_source_locations,
        dartsort_status,
    )

    installed, detail = dartsort_status()
    if not installed:
        print(f"  DARTsort localizers: absent ({detail}); pip install 'si_amortized[peers]'")
        return
    for model in ("pointsource", "dipole"):
        t0 = time.perf_counter()
        results[f"dartsort {model}"] = dartsort_point_source_locations(recording, spikes, main_channels, model=model)
        timings[f"dartsort {model}"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    results["dartsort amortized"] = dartsort_amortized_locations(recording, spikes, main_channels, seed=args.seed)
    timings["dartsort amortized (end-to-end)"] = time.perf_counter() - t0
    print(f"  DARTsort {detail} localizers done", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", default="SqMEA-10-15")
    parser.add_argument("--noise", type=float, nargs="+", default=[10.0])
    parser.add_argument("--n-cells", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, nargs="+", default=[0],
                        help="simulation seeds: one recording each, then a summary across them")
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--half-width", type=float, default=40.0)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path.home() / ".cache" / "si_amortized" / "benchmarks")
    parser.add_argument("--recording", type=Path, nargs="+", default=None,
                        help="use these MEArec files instead of simulating")
    parser.add_argument("--max-duration", type=float, default=None, help="only use the first seconds")
    parser.add_argument("--no-sorting", action="store_true")
    parser.add_argument("--somas-over-array", action="store_true",
                        help="the paper's setting: only cells whose soma lies over the probe's footprint")
    parser.add_argument("--in-memory", action="store_true", help="load the traces in memory first")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--paper", action="store_true", help="also run the paper's settings (3 x 3, per-example "
                        "amplitude, raw waveforms, 500-250 encoder)")
    parser.add_argument("--no-simulated", action="store_true",
                        help="skip the localizer trained on the packaged library minus the recording's cells")
    args = parser.parse_args()
    if args.quick:
        args.n_cells, args.duration, args.epochs = 10, 10.0, 5
    args.components = lambda n: [n] if args.quick else [n - 5, n, n + 5]
    seeds = args.seed
    for noise in args.noise:
        if args.recording:  # given files: training seeds from the first --seed
            names = [path.name for path in args.recording]
            unique = len(set(names)) == len(names)  # same-named files in other folders: label by full path
            runs = [(path.name if unique else str(path), path, seeds[0]) for path in args.recording]
        else:
            runs = [(f"seed {seed}", localization_benchmark_recording(args.probe, noise, args.n_cells, args.duration, seed,
                                                                      args.folder, args.somas_over_array), seed)
                    for seed in seeds]
        tables = {}
        for label, path, seed in runs:
            args.seed = seed
            print(f"\n=== {args.probe}, noise {noise:g} uV, {label} ===")
            tables[label] = run_one(Path(path), args)
        if len(tables) > 1:
            print(f"\n=== {args.probe}, noise {noise:g} uV: mean 2D error (um), all spikes, across recordings ===")
            print(format_across_recordings(summarize_across_recordings(tables)))


if __name__ == "__main__":
    main()
