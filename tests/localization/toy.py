"""Toy recordings whose spikes follow the exponential decay model exactly (for self-consistency tests)."""

from __future__ import annotations

import numpy as np
from probeinterface import Probe
from spikeinterface.core import NumpyRecording, NumpySorting

FS = 30_000.0
DECAY_UM = 28.0


def grid_positions(n_cols=8, n_rows=8, pitch=15.0):
    xs, ys = np.meshgrid(np.arange(n_cols) * pitch, np.arange(n_rows) * pitch)
    return np.column_stack([xs.ravel(), ys.ravel()]).astype("float64")


def spike_shape(num_samples=61, trough=30):
    """Unit-trough biphasic spike shape: -1 at ``trough``."""
    t = np.arange(num_samples) - trough
    shape = -np.exp(-0.5 * (t / 4.0) ** 2) + 0.35 * np.exp(-0.5 * ((t - 12) / 7.0) ** 2)
    return shape / -shape[trough]


def decay_amplitudes(sources, channel_locations, log_a):
    """a * exp(-r / 28 um), written naively: sources (n, 3), channel_locations (c, 2) -> (n, c)."""
    out = np.zeros((len(sources), len(channel_locations)))
    for i, (x, y, z) in enumerate(sources):
        for j, (cx, cy) in enumerate(channel_locations):
            r = np.sqrt((x - cx) ** 2 + (y - cy) ** 2 + z**2)
            out[i, j] = np.exp(log_a[i] - r / DECAY_UM)
    return out


def make_toy_recording(
    positions=None,
    num_units=6,
    spikes_per_unit=300,
    noise_uv=1.0,
    seed=0,
    unit_sources=None,
    sign=-1.0,
    spike_jitter_um=0.0,
    overhang_um=0.0,
):
    """Recording + sorting whose spikes are point sources with exponential decay.

    Returns
    -------
    recording, sorting, spike_sources (num_spikes, 3) in the sorting's spike-vector order, unit_sources
    """
    rng = np.random.default_rng(seed)
    positions = grid_positions() if positions is None else np.asarray(positions, dtype="float64")
    lo, hi = positions.min(axis=0), positions.max(axis=0)
    if unit_sources is None:
        unit_sources = np.column_stack(
            [
                rng.uniform(lo[0] - overhang_um, hi[0] + overhang_um, num_units),
                rng.uniform(lo[1] - overhang_um, hi[1] + overhang_um, num_units),
                rng.uniform(8.0, 25.0, num_units),
            ]
        )
    unit_sources = np.asarray(unit_sources, dtype="float64")
    num_units = len(unit_sources)
    shape = spike_shape()
    gap = 200  # samples between spikes: no collisions
    total = num_units * spikes_per_unit
    labels = rng.permutation(np.repeat(np.arange(num_units), spikes_per_unit))
    times = 100 + np.arange(total) * gap
    num_samples = int(times[-1] + 200)
    sources = unit_sources[labels] + rng.normal(0.0, spike_jitter_um, (total, 3)) * [1, 1, 0]
    log_a = np.log(rng.uniform(150.0, 300.0, total))
    amps = decay_amplitudes(sources, positions, log_a)
    traces = rng.normal(0.0, noise_uv, (num_samples, len(positions))).astype("float32")
    for t, amp in zip(times, amps):
        traces[t - 30 : t + 31] += (-sign) * (shape[:, None] * amp[None, :]).astype("float32")
    recording = NumpyRecording([traces], sampling_frequency=FS)
    probe = Probe(ndim=2, si_units="um")
    probe.set_contacts(positions=positions, shapes="circle", shape_params={"radius": 5})
    probe.set_device_channel_indices(np.arange(len(positions)))
    recording.set_probe(probe)
    sorting = NumpySorting.from_samples_and_labels([times], [labels], FS)
    spikes = sorting.to_spike_vector()
    # spike vector order: by sample (times are already sorted)
    assert np.array_equal(spikes["sample_index"], times)
    return recording, sorting, sources, unit_sources

# quick training settings shared by the analyzer-level tests
FAST = dict(epochs=15, batch_size=64, max_spikes=1500, seed=0)
