"""Bounded memory on long recordings: the location sorter on a lazily generated ground truth, in its own process."""

from __future__ import annotations

import time


from ..datasets.long_recordings import lazy_ground_truth_recording
from .memory import peak_rss_mb


def _sort_long_recording(probe, duration, method, vae_epochs, job_kwargs, seed) -> dict:
    import si_amortized  # noqa: F401  (registers "vae")

    from ..sorters import sort_by_locations

    recording, gt = lazy_ground_truth_recording(probe, duration, seed=seed)
    before = peak_rss_mb(since_exec=True)
    kwargs = {"epochs": vae_epochs} if (method == "vae" and vae_epochs) else {}
    t0 = time.perf_counter()
    sorting, out = sort_by_locations(
        recording, dict(localization_method=method, localization_kwargs=kwargs, job_kwargs=dict(job_kwargs))
    )
    return dict(
        probe=probe,
        duration_s=float(duration),
        num_channels=int(recording.get_num_channels()),
        traces_mb=recording.get_num_samples() * recording.get_num_channels() * 4 / 1e6,
        num_gt_spikes=int(gt.to_spike_vector().size),
        num_peaks=int(out["peaks"].size),
        num_units=int(sorting.get_num_units()),
        method=method,
        wall_s=time.perf_counter() - t0,
        rss_before_mb=before,
        peak_rss_mb=peak_rss_mb(since_exec=True),
    )


def measure_long_recording_memory(
    probe: str = "Neuropixels-64",
    duration: float = 600.0,
    method: str = "center_of_mass",
    vae_epochs: int | None = None,
    job_kwargs: dict | None = None,
    seed: int = 0,
) -> dict:
    """Peak memory of the location sorter on a long lazy recording, measured in a fresh process.

    The process is spawned: in a script, call this under ``if __name__ == "__main__":``.

    Parameters
    ----------
    probe : str, default: "Neuropixels-64"
    duration : float, default: 600.0
        Seconds of recording.
    method : str, default: "center_of_mass"
        Localization method of the sorter (``"vae"`` also trains the localizer on a subset of peaks).
    vae_epochs : int | None, default: None
    job_kwargs : dict | None, default: None
        SpikeInterface job kwargs; default ``n_jobs=1``, 1 s chunks, no progress bar.
    seed : int, default: 0

    Returns
    -------
    dict
        ``probe``, ``duration_s``, ``num_channels``, ``traces_mb`` (size of the traces as float32 if they
        were loaded), ``num_gt_spikes``, ``num_peaks``, ``num_units``, ``method``, ``wall_s``,
        ``rss_before_mb`` and ``peak_rss_mb`` (peak resident memory of the measuring process).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    job_kwargs = job_kwargs or {"n_jobs": 1, "chunk_duration": "1s", "progress_bar": False}
    # a spawned process: its peak memory is the sorting's own, not the caller's
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        return pool.submit(_sort_long_recording, probe, duration, method, vae_epochs, job_kwargs, seed).result()
