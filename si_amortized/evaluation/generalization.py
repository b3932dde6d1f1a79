"""The VAE paper's generalization experiment: a localizer trained on one recording applied to another.

Recording A and recording B share the probe and noise level but hold different neurons (another
seed draws other templates, positions and spike trains). On B's ground-truth spikes we compare the
localizer trained on A (no training on B), one trained on B itself, and ``center_of_mass``.
"""

from __future__ import annotations

import time

import numpy as np

from .localization import ground_truth_peaks, location_errors, summarize_errors, train_vae_localizer


def run_generalization(
    train_recording,
    train_sorting,
    test_recording,
    test_sorting,
    *,
    vae_kwargs: dict | None = None,
    job_kwargs: dict | None = None,
    seed: int = 0,
    progress=None,
) -> dict:
    """Localization error on ``test_recording`` of three localizers.

    Parameters
    ----------
    train_recording, train_sorting
        Recording A (the sorting only gives the training spikes' times and main channels; no locations
        are used for training).
    test_recording, test_sorting
        Recording B, with ``gt_unit_locations``.
    vae_kwargs : dict | None, default: None
        Fields of the localizer's FeatureConfig / ModelConfig / TrainingConfig (e.g. ``epochs``).
    job_kwargs : dict | None, default: None
    seed : int, default: 0
    progress : callable | None
        Called with each step's name.

    Returns
    -------
    dict
        ``{"vae (trained on A)": summary, "vae (trained on B)": summary, "center_of_mass": summary}``,
        each summary from :func:`summarize_errors` plus ``wall_time_s``; and ``"errors"``: the
        per-spike errors of each row.
    """
    from spikeinterface.sortingcomponents.peak_localization import localize_peaks

    vae_kwargs = dict(vae_kwargs or {})
    vae_kwargs.setdefault("seed", seed)
    job_kwargs = dict(job_kwargs or {})
    peaks_a = ground_truth_peaks(train_recording, train_sorting, seed=seed, job_kwargs=job_kwargs)
    peaks_b = ground_truth_peaks(test_recording, test_sorting, seed=seed, job_kwargs=job_kwargs)
    gt_b = test_sorting.get_property("gt_unit_locations")
    units_b = test_sorting.to_spike_vector()["unit_index"]

    def _step(name, fn):
        if progress is not None:
            progress(name)
        t0 = time.perf_counter()
        locations = fn()
        wall = time.perf_counter() - t0
        errors = location_errors(locations, units_b, gt_b)
        return dict(summarize_errors(errors), wall_time_s=wall), errors

    def _transfer():
        model = train_vae_localizer(train_recording, peaks_a, **vae_kwargs)
        return localize_peaks(test_recording, peaks_b, method="vae", method_kwargs=dict(model=model),
                              job_kwargs=job_kwargs)

    rows, errors = {}, {}
    rows["vae (trained on A)"], errors["vae (trained on A)"] = _step("vae trained on A, applied to B", _transfer)
    rows["vae (trained on B)"], errors["vae (trained on B)"] = _step(
        "vae trained on B",
        lambda: localize_peaks(test_recording, peaks_b, method="vae", method_kwargs=dict(vae_kwargs),
                               job_kwargs=job_kwargs),
    )
    rows["center_of_mass"], errors["center_of_mass"] = _step(
        "center_of_mass on B",
        lambda: localize_peaks(test_recording, peaks_b, method="center_of_mass", method_kwargs={},
                               job_kwargs=job_kwargs),
    )
    rows["errors"] = {k: np.asarray(v) for k, v in errors.items()}
    return rows
