"""Throughput and peak memory of the "vae" localizer on full-size Neuropixels-like probes.

A lazily generated recording (SpikeInterface's ground-truth generator: noise and templates computed chunk by
chunk, nothing held in memory) on a Neuropixels-1.0-like (384 channels) or 2.0-like (4 shanks x 96) layout;
peaks detected with ``locally_exclusive``, then ``localize_peaks(method="vae")`` (training included) and, for
the ratio, ``center_of_mass`` on the same peaks. Prints wall times, spikes per second and this process's
peak memory.

    python benchmarks/full_probe_scale.py --layout np1 --duration 600 --n-jobs 2
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layout", choices=["np1", "np2"], default="np1")
    parser.add_argument("--duration", type=float, default=600.0, help="seconds (default: 600)")
    parser.add_argument("--num-units", type=int, default=200)
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument("--half-width-um", type=float, default=40.0)
    parser.add_argument("--max-spikes", type=int, default=100_000, help="VAE training spikes (default: 100000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import si_amortized  # noqa: F401  (registers "vae")
    from spikeinterface.core import generate_ground_truth_recording, get_noise_levels
    from spikeinterface.sortingcomponents.peak_detection import detect_peaks
    from spikeinterface.sortingcomponents.peak_localization import localize_peaks

    from si_amortized.datasets.probes import neuropixels1_like_probe, neuropixels2_like_probe
    from si_amortized.evaluation.memory import peak_rss_mb

    probe = neuropixels1_like_probe(384) if args.layout == "np1" else neuropixels2_like_probe(4, 96)
    job = dict(n_jobs=args.n_jobs, chunk_duration="1s", progress_bar=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recording, _ = generate_ground_truth_recording(
            durations=[args.duration], probe=probe, num_units=args.num_units, seed=args.seed,
        )
    print(f"{args.layout}: {recording.get_num_channels()} channels, {args.duration:.0f} s, lazily generated; "
          f"memory before: {peak_rss_mb():.0f} MB", flush=True)

    t0 = time.perf_counter()
    noise = get_noise_levels(recording, return_in_uV=False, random_slices_kwargs=dict(seed=args.seed), **job)
    peaks = detect_peaks(recording, method="locally_exclusive",
                         method_kwargs=dict(noise_levels=noise, detect_threshold=5.0, radius_um=50.0), job_kwargs=job)
    detect_s = time.perf_counter() - t0
    print(f"detection: {peaks.size} peaks in {detect_s:.1f} s", flush=True)

    print(f"memory after detection: {peak_rss_mb():.0f} MB", flush=True)
    t0 = time.perf_counter()
    com = localize_peaks(recording, peaks, method="center_of_mass", method_kwargs={}, job_kwargs=job)
    com_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    vae = localize_peaks(recording, peaks, method="vae", method_kwargs=dict(half_width_um=args.half_width_um,
                                                                           max_spikes=args.max_spikes, seed=args.seed), job_kwargs=job)
    vae_s = time.perf_counter() - t0
    print(f"center_of_mass: {com_s:.1f} s ({peaks.size / com_s:,.0f} spikes/s)")
    print(f"vae (training + inference): {vae_s:.1f} s ({peaks.size / vae_s:,.0f} spikes/s, "
          f"{com_s / vae_s:.2f} x center_of_mass); fallback spikes {np.mean(vae['fallback']):.2%}; "
          f"finite {np.isfinite(vae['y']).mean():.2%}")
    print(f"end to end (noise + detection + vae): {detect_s + vae_s:.1f} s; peak memory {peak_rss_mb():.0f} MB")
    assert com.size == vae.size


if __name__ == "__main__":
    main()
