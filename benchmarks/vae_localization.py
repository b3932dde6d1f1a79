"""Benchmark: VAE spike localization vs SpikeInterface's localizers on MEArec ground truth.

Prints, per noise level: per-spike 2D error to the soma (mean +- sd, median; and split into
isolated spikes of somas under the array / spikes with another spike within 1 ms / somas outside
the array), the point-source floor (every spike placed at the point source fitted by least squares
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
python benchmarks/vae_localization.py --quick               # 10 cells, 10 s
python benchmarks/vae_localization.py --paper               # also the paper's encoder (raw waveforms, 500-250)
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import si_amortized  # noqa: F401  (registers vae_locations)
from si_amortized.datasets import load_mearec, simulate_recording
from si_amortized.evaluation.point_source_fit import AMPLITUDE_MODELS, fit_template_sources
from si_amortized.localization.config import PAPER_SETTINGS

BASELINES = ["center_of_mass", "monopolar_triangulation", "grid_convolution"]


def simulate(probe, noise, n_cells, duration, seed, folder):
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / f"{probe}_{n_cells}cells_{duration:g}s_{noise:g}uV_seed{seed}.h5"
    if out.exists():
        return out
    n_inh = max(n_cells // 5, 1)
    for min_dist, min_amp in ((20.0, 40.0), (15.0, 40.0), (10.0, 30.0), (5.0, 20.0)):
        try:
            return simulate_recording(
                probe, n_exc=n_cells - n_inh, n_inh=n_inh, duration=duration, noise_level=noise, seed=seed,
                min_dist=min_dist, min_amp=min_amp, output=out,
            )
        except RuntimeError as err:  # MEArec: "Templates could not be selected"
            print(f"  selection failed with min_dist={min_dist}, min_amp={min_amp}: {str(err).splitlines()[0]}")
    raise RuntimeError("could not simulate the recording")


def error_table(name, loc, gt, isolated_inside, colliding, outside):
    err = np.hypot(loc["x"] - gt[:, 0], loc["y"] - gt[:, 1])
    ok = np.isfinite(err)
    row = (
        f"{name:<26} {np.mean(err[ok]):6.2f} +- {np.std(err[ok]):5.2f}  median {np.median(err[ok]):6.2f}  "
        f"| isolated-inside {np.nanmean(err[isolated_inside]):6.2f}  colliding {np.nanmean(err[colliding]):6.2f}  "
        f"outside {np.nanmean(err[outside]):6.2f}  | NaN {np.sum(~ok)}"
    )
    return row, err


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
    gt = gt_sorting.get_property("gt_unit_locations")[spikes["unit_index"]]
    contacts = recording.get_channel_locations()
    lo, hi = contacts.min(axis=0), contacts.max(axis=0)
    inside = np.all((gt[:, :2] >= lo) & (gt[:, :2] <= hi), axis=1)
    gap = np.diff(spikes["sample_index"])
    limit = int(recording.sampling_frequency / 1000.0)
    colliding = np.zeros(num_spikes, bool)
    colliding[1:] |= gap < limit
    colliding[:-1] |= gap < limit
    print(
        f"{path.name} ({recording.get_total_duration():.0f} s): {gt_sorting.get_num_units()} units, {num_spikes} spikes, "
        f"{np.mean(colliding):.0%} with another spike within 1 ms, {np.mean(~inside):.0%} of spikes from somas outside the array"
    )

    results, timings = {}, {}
    for method in BASELINES:
        t0 = time.perf_counter()
        ext = analyzer.compute("spike_locations", method=method, save=False, **job)
        timings[method] = time.perf_counter() - t0
        results[method] = ext.get_data()
        print(f"  {method} done in {timings[method]:.1f} s", flush=True)

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
    if args.paper:
        paper_kwargs = dict(vae_kwargs, **PAPER_SETTINGS)
        t0 = time.perf_counter()
        paper = analyzer.compute("vae_locations", save=False, **paper_kwargs, **job)
        timings["vae paper encoder (end-to-end)"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        results["vae paper encoder"] = analyzer.compute(
            "vae_locations", model=paper.get_model(), save=False, max_jitter_examples=4, **job
        ).get_data()
        timings["vae paper encoder (inference)"] = time.perf_counter() - t0
        print(f"  vae with the paper's encoder done", flush=True)

    print("\n2D error to the soma (um)")
    for name, loc in results.items():
        row, _ = error_table(name, loc, gt, (~colliding) & inside, colliding, ~inside)
        print("  " + row)
    print("  reference, not a localizer: every spike at the point source fitted to its unit's average template")
    templates = analyzer.get_extension("templates").get_data()
    for amplitude_model in AMPLITUDE_MODELS:
        sources = fit_template_sources(templates, contacts, half_width_um=args.half_width, model=amplitude_model)
        floor = np.zeros(num_spikes, dtype=[("x", "float64"), ("y", "float64")])
        floor["x"], floor["y"] = sources[spikes["unit_index"], 0], sources[spikes["unit_index"], 1]
        row, _ = error_table(f"floor: {amplitude_model}", floor, gt, (~colliding) & inside, colliding, ~inside)
        print("  " + row)

    print("\nThroughput (spikes/s, n_jobs=%d) and ratio to center_of_mass" % args.n_jobs)
    com_rate = num_spikes / timings["center_of_mass"]
    for name, seconds in timings.items():
        rate = num_spikes / seconds
        print(f"  {name:<26} {seconds:7.2f} s  {rate:10.0f} spikes/s  x{rate / com_rate:5.2f}")
    print(f"  (VAE trained on {model.metadata['num_training_spikes']} spikes, {model.metadata['num_training_examples']} examples, "
          f"{args.epochs} epochs)")

    if not args.no_sorting:
        gmm_table(recording, gt_sorting, spikes, analyzer.get_main_channels(), results, args, job)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--probe", default="SqMEA-10-15")
    parser.add_argument("--noise", type=float, nargs="+", default=[10.0])
    parser.add_argument("--n-cells", type=int, default=50)
    parser.add_argument("--duration", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--half-width", type=float, default=20.0)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--folder", type=Path, default=Path.home() / ".cache" / "si_amortized" / "benchmarks")
    parser.add_argument("--recording", type=Path, default=None, help="use this MEArec file instead of simulating")
    parser.add_argument("--max-duration", type=float, default=None, help="only use the first seconds")
    parser.add_argument("--no-sorting", action="store_true")
    parser.add_argument("--in-memory", action="store_true", help="load the traces in memory first")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--paper", action="store_true", help="also run the paper's encoder (raw waveforms, 500-250)")
    args = parser.parse_args()
    if args.quick:
        args.n_cells, args.duration, args.epochs = 10, 10.0, 5
    args.components = lambda n: [n] if args.quick else [n - 5, n, n + 5]
    for noise in args.noise:
        path = args.recording or simulate(args.probe, noise, args.n_cells, args.duration, args.seed, args.folder)
        print(f"\n=== {args.probe}, noise {noise:g} uV ===")
        run_one(Path(path), args)


if __name__ == "__main__":
    main()
