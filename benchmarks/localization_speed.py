"""Benchmark: speed of ``vae_locations`` against SpikeInterface's ``center_of_mass`` on the same spikes.

Both run as a user runs them, ``analyzer.compute(...)`` with ``n_jobs`` and ``chunk_duration="1s"``, on the
ground-truth spikes of one MEArec recording (by default the 10 uV SqMEA-10-15 recording of seed 21 that
``benchmarks/vae_localization.py`` simulates). The cases are interleaved in rounds, after one warm-up round,
so that they share the machine's state; each prints its best and median wall time, its spikes/s and the ratio
of ``center_of_mass``'s best time (process pool) to its own (> 1: faster than ``center_of_mass``). With
``--binary-folder`` the recording is first saved there as SpikeInterface's binary format (a MEArec HDF5 file
is read through h5py, which serialises reads across threads), as users' recordings usually are.

Cases: ``center_of_mass`` on SpikeInterface's process and thread pools; the shipped localizer
(``model="pretrained"``) with the job kwargs as given, and on each pool; with ``--jitter-one`` also with one
example per spike (``max_jitter_examples=1``). The VAE's locations must not depend on the pool (checked).

Usage: python benchmarks/localization_speed.py [--recording FILE.h5] [--rounds 3] [--n-jobs 2]
       [--binary-folder DIR] [--jitter-one]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

import si_amortized  # noqa: F401  (registers vae_locations)


def default_recording() -> Path:
    """The seed-21, 10 uV SqMEA-10-15 recording of ``benchmarks/vae_localization.py`` (simulated when missing)."""
    from si_amortized.evaluation.localization_recordings import localization_benchmark_recording

    return Path(localization_benchmark_recording("SqMEA-10-15", 10.0, 50, 60.0, 21, Path.home() / ".cache" / "si_amortized" / "benchmarks"))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recording", type=Path, default=None, help="MEArec file (default: seed 21, 10 uV)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--binary-folder", type=Path, default=None,
                        help="save the recording there (once) and time on that copy")
    parser.add_argument("--jitter-one", action="store_true", help="also time max_jitter_examples=1")
    args = parser.parse_args()

    import spikeinterface.core as sc
    from si_amortized.datasets import load_mearec

    path = args.recording or default_recording()
    recording, gt_sorting = load_mearec(path)
    if args.binary_folder is not None:
        if not args.binary_folder.exists():
            recording.save(folder=args.binary_folder, n_jobs=1, progress_bar=False)
        recording = sc.load(args.binary_folder)
    analyzer = sc.create_sorting_analyzer(gt_sorting, recording, sparse=False, format="memory")
    analyzer.compute(["random_spikes", "templates"], n_jobs=1, progress_bar=False)
    job = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)
    vae = dict(model="pretrained")
    cases = {
        "center_of_mass (process)": ("spike_locations", dict(method="center_of_mass", pool_engine="process")),
        "center_of_mass (thread)": ("spike_locations", dict(method="center_of_mass", pool_engine="thread")),
        "vae pretrained": ("vae_locations", dict(vae)),
        "vae pretrained (process)": ("vae_locations", dict(vae, pool_engine="process")),
        "vae pretrained (thread)": ("vae_locations", dict(vae, pool_engine="thread")),
    }
    if args.jitter_one:
        cases["vae pretrained, max_jitter_examples=1"] = ("vae_locations", dict(vae, max_jitter_examples=1))
    times = {name: [] for name in cases}
    locations = {}
    for round_index in range(args.rounds + 1):  # round 0 warms up (numba cache, torch, the shipped file)
        for name, (extension, kwargs) in cases.items():
            t0 = time.perf_counter()
            ext = analyzer.compute(extension, **kwargs, **job)
            elapsed = time.perf_counter() - t0
            if round_index:
                times[name].append(elapsed)
            if extension == "vae_locations" and "max_jitter_examples" not in kwargs:  # same settings, other pools
                data = ext.get_data()
                locations[name] = np.stack([data["x"], data["y"], data["z"]], axis=1)
    num_spikes = analyzer.sorting.count_total_num_spikes()
    reference = min(times["center_of_mass (process)"])
    print(f"{path.name}: {num_spikes} spikes, n_jobs={args.n_jobs}, {args.rounds} rounds"
          + (f", binary copy {args.binary_folder}" if args.binary_folder else ""))
    for name, values in times.items():
        best = min(values)
        print(f"{name:40s} best {best:.3f} s  median {np.median(values):.3f} s  {num_spikes / best:9,.0f} spikes/s"
              f"  x center_of_mass {reference / best:.2f}")
    first = next(iter(locations.values()))
    worst = max(float(np.abs(value - first).max()) for value in locations.values())
    print(f"largest location difference between the VAE's pool settings: {worst:.2e} um")


if __name__ == "__main__":
    main()
