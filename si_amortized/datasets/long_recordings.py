"""Lazy long ground-truth recordings: packaged MEArec templates injected into on-the-fly noise, any duration."""

from __future__ import annotations

import numpy as np

from .templates import load_template_library

__all__ = ["lazy_ground_truth_recording"]


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
