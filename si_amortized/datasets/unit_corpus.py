"""Synthetic unit corpus for NEMO pretraining: thousands of units in seconds, drawn from simulated templates.

A MEArec recording costs about 100 s per 40 units; what NEMO sees of a unit is only its spike train (for the
3D ACG) and its average template. Both are synthesized here directly, the way a 60 s MEArec recording and a
sorter's template estimate would give them:

- the spike train from a firing model (:func:`~.firing.simulate_spike_trains`, cell-type firing, or
  :func:`~.firing.mearec_default_spike_trains`, MEArec's Poisson trains whose rate depends on E/I only);
- the template: the NEURON template band-passed as MEArec filters the recording, plus the average of
  ``n`` band-passed noise snippets (noise of ``noise_uv`` before the filter, as MEArec's ``noise_level``),
  which is band-passed noise scaled by ``1 / sqrt(n)``; ``n`` is the unit's spike count or a random number
  of spikes (a sorter's random-spike templates).

Overlapping spikes of other units and MEArec's per-spike amplitude modulation (5 %) are not modelled.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._ranges import store_ranges
from .filtering import MEAREC_BAND_HZ, band_pass, band_pass_templates, band_passed_noise
from .firing import mearec_default_spike_trains, simulate_spike_trains
from .templates import TemplateLibrary, cell_type_from_mtype

__all__ = ["UnitCorpusConfig", "synthesize_unit_corpus"]


@dataclass(frozen=True, kw_only=True)
class UnitCorpusConfig:
    """How a synthetic unit corpus is drawn.

    Parameters
    ----------
    num_units : int, default: 2000
        Units, balanced over the library's m-types (each unit a random template of its type).
    duration_s : float, default: 60.0
        Length of each unit's spike train.
    noise_uv : (float, float), default: (5.0, 30.0)
        Range of the noise level (uniform), uV before MEArec's band-pass filter.
    spikes_for_templates : (int, int), default: (50, 1000)
        Range (log-uniform) of the number of spikes averaged into a template, capped at the unit's count.
    every_spike_fraction : float, default: 0.25
        Share of units whose template averages every spike.
    mearec_firing_fraction : float, default: 0.5
        Share of units with MEArec's default Poisson firing; the others fire by their m-type's model.
    firing_jitter : (float, float), default: (1.0, 1.5)
        Range of the per-unit spread of the cell-type firing parameters.
    window_ms : (float, float), default: (1.5, 2.5)
        Template samples kept before and after the main (negative) peak.
    band_hz : (float, float), default: (300.0, 6000.0)
        MEArec's filter band.
    """

    num_units: int = 2000
    duration_s: float = 60.0
    noise_uv: tuple = (5.0, 30.0)
    spikes_for_templates: tuple = (50, 1000)
    every_spike_fraction: float = 0.25
    mearec_firing_fraction: float = 0.5
    firing_jitter: tuple = (1.0, 1.5)
    window_ms: tuple = (1.5, 2.5)
    band_hz: tuple = MEAREC_BAND_HZ

    def __post_init__(self):
        store_ranges(self, ("noise_uv", "spikes_for_templates", "firing_jitter", "window_ms", "band_hz"))
        if self.spikes_for_templates[0] < 1:
            raise ValueError("spikes_for_templates must be >= 1")
        for name in ("every_spike_fraction", "mearec_firing_fraction"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {getattr(self, name)}")
        if self.num_units < 1 or self.duration_s <= 0:
            raise ValueError("num_units must be >= 1 and duration_s > 0")


def synthesize_unit_corpus(libraries, config: UnitCorpusConfig = UnitCorpusConfig(), seed: int = 0) -> dict:
    """Spike trains and estimated templates of synthetic units drawn from template libraries.

    Parameters
    ----------
    libraries : TemplateLibrary | sequence of TemplateLibrary
        Simulated templates with m-types (same probe and sampling rate).
    config : UnitCorpusConfig
    seed : int, default: 0
        Seeds every draw: the same libraries, config and seed give the same corpus.

    Returns
    -------
    dict with
        ``templates`` (num_units, num_samples, num_channels) float32, the estimated templates (uV), main
        peak at ``nbefore``; ``nbefore`` int; ``sampling_frequency`` float; ``channel_locations``
        (num_channels, 2); ``sample_index`` / ``unit_index`` (num_spikes,) int64, the spike trains;
        ``num_samples`` int (samples per train); ``mtype``, ``cell_type`` (num_units,) str;
        ``template_index`` (num_units,) int, row in the concatenated libraries; ``noise_uv``,
        ``spikes_for_templates`` (num_units,) float / int (-1 = every spike); ``firing`` (num_units,) str.
    """
    libraries = [libraries] if isinstance(libraries, TemplateLibrary) else list(libraries)
    if not libraries:
        raise ValueError("give at least one template library")
    fs = libraries[0].sampling_frequency
    if any(lib.probe != libraries[0].probe or lib.sampling_frequency != fs for lib in libraries):
        raise ValueError("template libraries must share the probe and the sampling rate")
    raw = np.concatenate([lib.templates for lib in libraries]).transpose(0, 2, 1)  # (n, samples, channels)
    mtypes = np.concatenate([lib.mtypes for lib in libraries]).astype(str)
    rng = np.random.default_rng(seed)

    types = np.unique(mtypes)
    unit_mtypes = rng.permutation(np.resize(types, config.num_units))
    choice = np.array([rng.choice(np.flatnonzero(mtypes == m)) for m in unit_mtypes])
    used, row = np.unique(choice, return_inverse=True)  # filter each drawn template once
    filtered = band_pass_templates(raw[used], fs, config.band_hz)
    before = int(round(config.window_ms[0] * fs / 1000.0))
    after = int(round(config.window_ms[1] * fs / 1000.0))

    mearec = rng.random(config.num_units) < config.mearec_firing_fraction
    trains = [None] * config.num_units
    for idx in np.flatnonzero(mearec):
        trains[idx] = mearec_default_spike_trains([unit_mtypes[idx]], config.duration_s, int(rng.integers(1 << 31)))[0]
    for idx in np.flatnonzero(~mearec):
        jitter = float(rng.uniform(*config.firing_jitter))
        trains[idx] = simulate_spike_trains([unit_mtypes[idx]], config.duration_s, int(rng.integers(1 << 31)), jitter)[0]

    noise_uv = rng.uniform(*config.noise_uv, config.num_units)
    every = rng.random(config.num_units) < config.every_spike_fraction
    low, high = np.log(config.spikes_for_templates[0]), np.log(config.spikes_for_templates[1])
    drawn = np.round(np.exp(rng.uniform(low, high, config.num_units))).astype(np.int64)
    counts = np.array([t.size for t in trains])
    averaged = np.maximum(1, np.where(every, counts, np.minimum(drawn, counts)))

    num_channels = raw.shape[2]
    gain = _filter_gain(fs, config.band_hz)
    out = np.zeros((config.num_units, before + after, num_channels), dtype=np.float32)
    for u in range(config.num_units):
        template = filtered[row[u]]
        peak = int(np.argmin(template.min(axis=1)))
        window = np.pad(template, ((before, after), (0, 0)))[peak : peak + before + after]
        noise = band_passed_noise(rng, 4 * (before + after), num_channels, fs, config.band_hz)
        noise = noise[before + after : 2 * (before + after)]  # away from the filter's edges
        # the filtered noise of MEArec's noise_level (std before the filter), averaged over `averaged` spikes
        scale = noise_uv[u] * gain / np.sqrt(averaged[u])
        out[u] = window + scale * noise

    sample_index = np.concatenate([np.round(t * fs).astype(np.int64) for t in trains])
    unit_index = np.concatenate([np.full(t.size, u, dtype=np.int64) for u, t in enumerate(trains)])
    order = np.lexsort((unit_index, sample_index))
    return dict(
        templates=out,
        nbefore=before,
        sampling_frequency=fs,
        channel_locations=libraries[0].channel_locations(),
        sample_index=sample_index[order],
        unit_index=unit_index[order],
        num_samples=int(round(config.duration_s * fs)),
        mtype=unit_mtypes,
        cell_type=np.array([cell_type_from_mtype(m) for m in unit_mtypes]),
        template_index=choice,
        noise_uv=noise_uv,
        spikes_for_templates=np.where(every, -1, averaged),
        firing=np.where(mearec, "mearec", "celltype"),
    )


def _filter_gain(sampling_frequency: float, band: tuple) -> float:
    """Standard deviation of band-passed unit white noise (the filter's RMS gain)."""
    rng = np.random.default_rng(0)
    return float(band_pass(rng.standard_normal(200_000), 0, sampling_frequency, band).std())
