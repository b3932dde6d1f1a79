"""Everything the benchmark computes on one scenario, as one picklable result (runs locally or on a Dask worker)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .config import BenchmarkConfig
from .gmm_sorting import accuracy_vs_components, default_components_grid, location_features, whitened_waveform_pcs
from .localization import (
    default_method_kwargs,
    ground_truth_peaks,
    localize_ground_truth,
    restrict_ground_truth,
    subsample_spikes,
)
from .memory import peak_rss_mb
from .scenarios import Scenario


def count_steps(config: BenchmarkConfig) -> int:
    """Number of progress steps :func:`evaluate_scenario` reports for one scenario."""
    n = 1
    if "localization" in config.sections or "gmm" in config.sections:
        n += len(config.localization_methods)
    if "gmm" in config.sections:
        n += 1
    if "sorters" in config.sections:
        n += 1
    if "generalization" in config.sections:
        n += 4
    return n


def evaluate_scenario(scenario: Scenario, config: BenchmarkConfig, work_folder, progress=None) -> dict:
    """Localization errors, GMM sorting, sorter study and generalization on one scenario.

    Parameters
    ----------
    scenario : Scenario
    config : BenchmarkConfig
    work_folder : str | Path
        Where the sorter study of this scenario is written (``work_folder / "study_<name>"``).
    progress : callable | None, default: None
        Called with a step description before each step.

    Returns
    -------
    dict
        ``scenario`` (its fields), ``num_spikes``, ``probe`` (channel locations), ``gt_unit_locations``,
        ``unit_indices`` and, per section present in ``config.sections``: ``localization``
        ({method: summary + per-spike ``x``, ``y``, ``errors``}), ``gmm`` ({feature set: {method: rows}}),
        ``sorters`` (a DataFrame), ``generalization`` ({row: summary}); ``wall_times`` per step and
        ``peak_rss_mb`` of the process.
    """
    from dataclasses import asdict

    def step(name):
        if progress is not None:
            progress(f"{scenario.name}: {name}")

    wall: dict[str, float] = {}
    work_folder = Path(work_folder)
    work_folder.mkdir(parents=True, exist_ok=True)
    job_kwargs = dict(config.job_kwargs)
    epochs = config.effective_vae_epochs

    step("simulate / load ground truth")
    t0 = time.perf_counter()
    recording, gt_sorting = scenario.load()
    wall["simulate_or_load"] = time.perf_counter() - t0
    scored = subsample_spikes(gt_sorting, config.effective_max_spikes_per_unit, seed=config.seed)
    gt_scored = restrict_ground_truth(gt_sorting, scored)
    spikes = gt_scored.to_spike_vector()
    result = dict(
        scenario=asdict(scenario),
        num_spikes=int(gt_sorting.to_spike_vector().size),
        num_scored_spikes=int(spikes.size),
        num_units=int(gt_sorting.get_num_units()),
        duration_s=float(recording.get_total_duration()),
        probe=np.asarray(recording.get_channel_locations(), float),
        gt_unit_locations=np.asarray(gt_sorting.get_property("gt_unit_locations"), float),
        unit_indices=spikes["unit_index"].copy(),
    )

    locs = {}
    if "localization" in config.sections or "gmm" in config.sections:
        t0 = time.perf_counter()
        all_peaks = ground_truth_peaks(recording, gt_sorting, seed=config.seed, job_kwargs=job_kwargs)
        peaks = all_peaks[scored]
        wall["ground_truth_peaks"] = time.perf_counter() - t0
        method_kwargs = {
            m: default_method_kwargs(m, vae_epochs=epochs, seed=config.seed) for m in config.localization_methods
        }
        locs = localize_ground_truth(
            recording, gt_scored, config.localization_methods, peaks=peaks, training_peaks=all_peaks,
            method_kwargs=method_kwargs,
            job_kwargs=job_kwargs, seed=config.seed, progress=lambda m: step(f"localization {m}"),
        )
        result["localization"] = {
            m: dict(r.summary, wall_time_s=r.wall_time_s, training_time_s=r.training_time_s,
                    spikes_per_s=r.spikes_per_second,
                    x=np.asarray(r.locations["x"], float), y=np.asarray(r.locations["y"], float), errors=r.errors)
            for m, r in locs.items()
        }
        for m, r in locs.items():
            wall[f"localization_{m}"] = r.wall_time_s

    if "gmm" in config.sections:
        step("GMM sorting from locations")
        t0 = time.perf_counter()
        grid = list(config.n_components or default_components_grid(gt_sorting.get_num_units(), config.size))
        pcs = whitened_waveform_pcs(recording, peaks, n_pcs=config.n_pcs, seed=config.seed, job_kwargs=job_kwargs)
        gmm = {"locations": {}, f"locations + {config.n_pcs} PCs": {}}
        for m, r in locs.items():
            gmm["locations"][m] = accuracy_vs_components(
                gt_scored, peaks, location_features(r.locations), grid, seed=config.seed
            )
            gmm[f"locations + {config.n_pcs} PCs"][m] = accuracy_vs_components(
                gt_scored, peaks, location_features(r.locations, pcs, config.pc_scale), grid, seed=config.seed
            )
        result["gmm"] = gmm
        wall["gmm"] = time.perf_counter() - t0

    if "sorters" in config.sections:
        from .sorter_comparison import accuracy_by_snr, run_sorter_study, sorter_cases, summarize_study

        step("sorter study (SorterStudy)")
        t0 = time.perf_counter()
        cases = sorter_cases(
            "gt", localization_methods=config.effective_sorter_localization_methods, internal_sorter=config.internal_sorter,
            vae_epochs=epochs, location_sorter_params=dict(seed=config.seed, pc_scale=config.pc_scale,
                                                           n_pcs=config.n_pcs),
            job_kwargs=job_kwargs,
        )
        study = run_sorter_study(work_folder / f"study_{scenario.name}", recording, gt_sorting, cases)
        result["sorters"] = summarize_study(study)
        by_unit = accuracy_by_snr(study)
        if by_unit is not None:
            result["sorters_by_unit"] = by_unit
        wall["sorters"] = time.perf_counter() - t0

    if "generalization" in config.sections:
        from .generalization import run_generalization

        other = scenario.with_other_neurons()
        step("generalization: simulate / load recording A (other neurons)")
        t0 = time.perf_counter()
        rec_a, gt_a = other.load()
        vae_kwargs = {} if epochs is None else dict(epochs=epochs)
        generalization = run_generalization(
            rec_a, gt_a, recording, gt_sorting, vae_kwargs=vae_kwargs, job_kwargs=job_kwargs, seed=config.seed,
            progress=step,
        )
        generalization.pop("errors")
        result["generalization"] = dict(rows=generalization, train_scenario=asdict(other))
        wall["generalization"] = time.perf_counter() - t0

    result["wall_times"] = wall
    result["peak_rss_mb"] = peak_rss_mb()
    return result
