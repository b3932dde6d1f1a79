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
import resource
import time

import numpy as np


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


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


def lazy_recording(probe: str, duration: float, num_units: int, noise_level: float, seed: int):
    """A lazily generated ground-truth recording from the packaged MEArec templates of ``probe``."""
    import MEAutility as mu
    from probeinterface import Probe
    from spikeinterface.core import InjectTemplatesRecording, NoiseGeneratorRecording
    from spikeinterface.core.generate import generate_sorting

    from si_amortized.datasets import load_template_library

    library = load_template_library(probe)
    fs = 1000.0 / library.params["dt"]
    nbefore = int(round(library.params["cut_out"][0] * fs / 1000.0))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(library.templates), size=num_units, replace=False)
    templates = np.ascontiguousarray(library.templates[chosen].transpose(0, 2, 1))  # (units, samples, channels)
    mea = mu.return_mea(probe)
    num_channels = templates.shape[2]
    noise = NoiseGeneratorRecording(num_channels=num_channels, sampling_frequency=fs, durations=[duration],
                                    noise_levels=noise_level, dtype="float32", seed=seed, strategy="on_the_fly")
    positions = np.asarray(mea.positions)[:, 1:3]  # MEArec (x, y, z) -> probe plane (y, z)
    probe_obj = Probe(ndim=2, si_units="um")
    probe_obj.set_contacts(positions=positions, shapes="square", shape_params={"width": 12})
    probe_obj.set_device_channel_indices(np.arange(num_channels))
    sorting = generate_sorting(num_units=num_units, sampling_frequency=fs, durations=[duration],
                               firing_rates=10.0, refractory_period_ms=4.0, seed=seed)
    recording = InjectTemplatesRecording(sorting, templates, nbefore=nbefore, parent_recording=noise)
    recording.set_probe(probe_obj, in_place=True)
    recording.annotate(is_filtered=True)
    return recording, sorting


def measure_memory(probe: str, duration: float, method: str, vae_epochs: int | None, n_jobs: int) -> None:
    import si_amortized  # noqa: F401

    recording, gt = lazy_recording(probe, duration, num_units=50, noise_level=10.0, seed=0)
    in_memory_mb = recording.get_num_samples() * recording.get_num_channels() * 4 / 1e6
    print(f"lazy {probe}: {recording.get_num_channels()} channels, {duration:.0f} s at {recording.sampling_frequency:.0f} Hz "
          f"({in_memory_mb:.0f} MB as float32 if loaded), {gt.to_spike_vector().size} injected spikes")
    before = peak_rss_mb()
    sorting, out, wall = run_location_sorter(recording, method, vae_epochs, n_jobs, progress_bar=True)
    print(f"location_sorter[{method}]: {out['peaks'].size} peaks, {sorting.get_num_units()} units in {wall:.0f} s")
    print(f"peak RSS {peak_rss_mb():.0f} MB (before sorting {before:.0f} MB; the traces would take {in_memory_mb:.0f} MB)")


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
