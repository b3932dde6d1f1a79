"""The location sorter against itself on SpikeInterface's localizers, and its memory on a long recording.

Two measurements (each in its own run, so that peak memory is the run's own):

1. ``--scenario sqmea-10uv --size quick``: the sorter's pipeline (``sort_by_locations``) fed by each
   localization method on a MEArec ground truth: wall time, peaks/s and its ratio to ``center_of_mass``
   measured in the same run, units found, well-detected units and mean accuracy
   (``compare_sorter_to_ground_truth``).
2. ``--memory --probe Neuropixels-64 --duration 600``: the sorter on a long lazily generated recording
   (SpikeInterface's ``NoiseGeneratorRecording`` + ``InjectTemplatesRecording`` with the packaged MEArec
   templates: nothing is held in memory or written to disk), printing the peak resident memory against
   the size the traces would take in memory.

Usage::

    python benchmarks/location_sorter.py --scenario sqmea-10uv --size quick
    python benchmarks/location_sorter.py --memory --probe Neuropixels-64 --duration 600 --method center_of_mass
"""

from __future__ import annotations

import argparse
import time


def run_location_sorter(recording, method: str, vae_epochs: int | None, n_jobs: int, progress_bar: bool):
    """The location sorter's pipeline on ``recording`` with one localization method; returns (sorting, out, wall s)."""
    from si_amortized.sorters import sort_by_locations

    kwargs = {"epochs": vae_epochs} if (method == "vae" and vae_epochs) else {}
    t0 = time.perf_counter()
    sorting, out = sort_by_locations(
        recording, dict(localization_method=method, localization_kwargs=kwargs,
                        job_kwargs=dict(n_jobs=n_jobs, chunk_duration="1s", progress_bar=progress_bar)))
    return sorting, out, time.perf_counter() - t0


def compare_methods(scenario_name: str, size: str, methods: list[str], vae_epochs: int | None, n_jobs: int) -> None:
    import si_amortized  # noqa: F401
    from spikeinterface.comparison import compare_sorter_to_ground_truth

    from si_amortized.evaluation import get_scenarios
    from si_amortized.evaluation.memory import peak_rss_mb

    scenario = get_scenarios(scenario_name, size=size)[0]
    recording, gt = scenario.load()
    print(f"{scenario.name}: {recording.get_num_channels()} channels, {recording.get_total_duration():.0f} s, "
          f"{gt.get_num_units()} GT units, {gt.to_spike_vector().size} GT spikes")
    rows = []
    for method in methods:
        sorting, out, wall = run_location_sorter(recording, method, vae_epochs, n_jobs, progress_bar=False)
        comparison = compare_sorter_to_ground_truth(gt, sorting, exhaustive_gt=True)
        perf = comparison.get_performance()
        rows.append(dict(method=method, wall=wall, peaks=out["peaks"].size, units=sorting.get_num_units(),
                         well=comparison.count_well_detected_units(0.8), accuracy=float(perf["accuracy"].mean()),
                         precision=float(perf["precision"].mean()), recall=float(perf["recall"].mean())))
        print(f"  {method}: {wall:.1f} s", flush=True)
    reference = next((r for r in rows if r["method"] == "center_of_mass"), rows[0])
    print(f"\n{'method':<26}{'wall s':>8}{'peaks/s':>9}{'x COM':>7}{'units':>7}{'well':>6}{'acc':>7}{'prec':>7}{'rec':>7}")
    for r in rows:
        rate = r["peaks"] / r["wall"]
        ratio = rate / (reference["peaks"] / reference["wall"])
        print(f"{r['method']:<26}{r['wall']:>8.1f}{rate:>9.0f}{ratio:>7.2f}{r['units']:>7}{r['well']:>6}"
              f"{r['accuracy']:>7.3f}{r['precision']:>7.3f}{r['recall']:>7.3f}")
    print(f"\npeak RSS {peak_rss_mb():.0f} MB")


def measure_memory(probe: str, duration: float, method: str, vae_epochs: int | None, n_jobs: int) -> None:
    from si_amortized.evaluation.scale import measure_long_recording_memory

    r = measure_long_recording_memory(probe, duration, method, vae_epochs,
                                      job_kwargs=dict(n_jobs=n_jobs, chunk_duration="1s", progress_bar=True))
    print(f"lazy {probe}: {r['num_channels']} channels, {duration:.0f} s ({r['traces_mb']:.0f} MB as float32 if loaded), "
          f"{r['num_gt_spikes']} injected spikes")
    print(f"location_sorter[{method}]: {r['num_peaks']} peaks, {r['num_units']} units in {r['wall_s']:.0f} s")
    print(f"peak RSS {r['peak_rss_mb']:.0f} MB (before sorting {r['rss_before_mb']:.0f} MB; "
          f"the traces would take {r['traces_mb']:.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scenario", default="sqmea-10uv")
    parser.add_argument("--size", default="quick", choices=["tiny", "quick", "full"])
    parser.add_argument("--methods", default="vae,center_of_mass,monopolar_triangulation")
    parser.add_argument("--vae-epochs", type=int, default=None)
    parser.add_argument("--n-jobs", type=int, default=1)
    parser.add_argument("--memory", action="store_true", help="measure peak memory on a long lazy recording")
    parser.add_argument("--probe", default="Neuropixels-64")
    parser.add_argument("--duration", type=float, default=600.0)
    parser.add_argument("--method", default="center_of_mass", help="localization method of the --memory run")
    args = parser.parse_args()
    if args.memory:
        measure_memory(args.probe, args.duration, args.method, args.vae_epochs, args.n_jobs)
    else:
        compare_methods(args.scenario, args.size, args.methods.split(","), args.vae_epochs, args.n_jobs)


if __name__ == "__main__":
    main()
