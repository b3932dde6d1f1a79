"""Bounded memory on long recordings: the location sorter on a lazily generated ground truth, in its own process."""

from __future__ import annotations

import resource
import time

import numpy as np


def lazy_ground_truth_recording(
    probe: str = "Neuropixels-64", duration: float = 600.0, num_units: int = 50, noise_level: float = 10.0, seed: int = 0
):
    """A ground-truth recording computed on the fly from the packaged MEArec templates of ``probe``.

    SpikeInterface's ``NoiseGeneratorRecording`` plus ``InjectTemplatesRecording``: nothing is held in
    memory or written to disk, so any duration can be processed chunk by chunk.

    Parameters
    ----------
    probe : str, default: "Neuropixels-64"
        A probe with a packaged template library (``SqMEA-10-15`` or ``Neuropixels-64``).
    duration : float, default: 600.0
        Seconds.
    num_units : int, default: 50
    noise_level : float, default: 10.0
        Noise standard deviation (uV).
    seed : int, default: 0

    Returns
    -------
    recording : BaseRecording
        Float32 traces in uV with the probe's geometry.
    sorting : BaseSorting
        The injected spike trains (10 Hz, 4 ms refractory period).
    """
    import MEAutility as mu
    from probeinterface import Probe
    from spikeinterface.core import InjectTemplatesRecording, NoiseGeneratorRecording
    from spikeinterface.core.generate import generate_sorting

    from ..datasets import load_template_library

    library = load_template_library(probe)
    fs = 1000.0 / library.params["dt"]
    nbefore = int(round(library.params["cut_out"][0] * fs / 1000.0))
    rng = np.random.default_rng(seed)
    chosen = rng.choice(len(library.templates), size=num_units, replace=False)
    templates = np.ascontiguousarray(library.templates[chosen].transpose(0, 2, 1))  # (units, samples, channels)
    num_channels = templates.shape[2]
    noise = NoiseGeneratorRecording(num_channels=num_channels, sampling_frequency=fs, durations=[duration],
                                    noise_levels=noise_level, dtype="float32", seed=seed, strategy="on_the_fly")
    positions = np.asarray(mu.return_mea(probe).positions)[:, 1:3]  # MEArec (x, y, z) -> probe plane (y, z)
    probe_obj = Probe(ndim=2, si_units="um")
    probe_obj.set_contacts(positions=positions, shapes="square", shape_params={"width": 12})
    probe_obj.set_device_channel_indices(np.arange(num_channels))
    sorting = generate_sorting(num_units=num_units, sampling_frequency=fs, durations=[duration],
                               firing_rates=10.0, refractory_period_ms=4.0, seed=seed)
    recording = InjectTemplatesRecording(sorting, templates, nbefore=nbefore, parent_recording=noise)
    recording.set_probe(probe_obj, in_place=True)
    recording.annotate(is_filtered=True)
    return recording, sorting


def _peak_rss_mb() -> float:
    """Peak resident memory of this process image (MB).

    Linux's ``VmHWM`` belongs to the current address space; ``ru_maxrss`` survives ``execve`` and would count
    the memory of the parent a spawned process was forked from.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _sort_long_recording(probe, duration, method, vae_epochs, job_kwargs, seed) -> dict:
    import si_amortized  # noqa: F401  (registers "vae")

    from ..sorters import sort_by_locations

    recording, gt = lazy_ground_truth_recording(probe, duration, seed=seed)
    before = _peak_rss_mb()
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
        peak_rss_mb=_peak_rss_mb(),
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
