"""The benchmark report folder: ``report.md`` (tables), ``figures/*.png``, ``results.json``."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

from . import figures
from .formatting import format_number, markdown_table

SECTION_TITLES = {
    "localization": "Localization error (VAE paper, Table 1)",
    "gmm": "Sorting from locations with GMMs (VAE paper, Figure 2)",
    "sorters": "Location sorter in SpikeInterface's SorterStudy",
    "generalization": "Generalization of the VAE localizer to other neurons",
    "motion": "Motion correction with each localizer (drifting ground truth)",
    "nemo": "NEMO unit embeddings",
    "rollae": "Roll-AE well embeddings",
    "scale": "Memory on a long recording",
}


def _scale_section(scale: dict | None) -> list[str]:
    if not scale:
        return ["Not run.", ""]
    lines = [
        f"The location sorter ({scale['method']} locations) on a {scale['duration_s'] / 60:.1f}-minute "
        f"{scale['probe']} recording ({scale['num_channels']} channels) generated lazily from the packaged MEArec "
        "templates, processed chunk by chunk in its own process:",
        "",
    ]
    lines += markdown_table(
        ["probe", "duration (s)", "traces as float32 (MB)", "GT spikes", "peaks", "units", "wall time (s)",
         "peak memory (MB)"],
        [[scale["probe"], format_number(scale["duration_s"], 0), format_number(scale["traces_mb"], 0),
          scale["num_gt_spikes"], scale["num_peaks"], scale["num_units"], format_number(scale["wall_s"], 1),
          format_number(scale["peak_rss_mb"], 0)]],
    )
    lines += [f"Peak memory of the sorting process: **{format_number(scale['peak_rss_mb'], 0)} MB** "
              f"(the traces alone would take {format_number(scale['traces_mb'], 0)} MB).", ""]
    return lines


def _jsonable(obj):
    """Drop per-spike arrays; keep summaries."""
    import pandas as pd

    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items() if not (isinstance(v, np.ndarray) and v.size > 64)}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, pd.DataFrame):
        return {str(k): _jsonable(v) for k, v in obj.to_dict(orient="index").items()}
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating,)):
        return float(obj)
    return obj


def _localization_section(results, fig_dir) -> list[str]:
    lines = [
        "Per-spike 2D distance (um) between each ground-truth spike's estimated location and its unit's soma; "
        "every method localizes the same spikes (ground-truth times, main channel of the unit's template). "
        "The VAE is trained (unsupervised) on all ground-truth spikes of the recording; spikes/s is inference "
        "only, the training time is apart.", "",
    ]
    rows = []
    for res in results:
        if "localization" not in res:
            continue
        for method, s in res["localization"].items():
            rows.append([res["scenario"]["name"], method, f"{format_number(s['mean'])} +- {format_number(s['sd'])}",
                         format_number(s["median"]), format_number(s["failed_fraction"], 3), s["num_spikes"],
                         format_number(s["spikes_per_s"], 0), format_number(s["training_time_s"], 1),
                         format_number(s["wall_time_s"], 1)])
    lines += markdown_table(["scenario", "method", "mean +- sd (um)", "median (um)", "failed", "spikes", "spikes/s",
                             "training (s)", "wall (s)"], rows)
    for res in results:
        if "localization" not in res:
            continue
        name = res["scenario"]["name"]
        figures.plot_locations_over_probe(res, fig_dir / f"locations_{name}.png")
        figures.plot_error_histograms(res, fig_dir / f"errors_{name}.png")
        lines += [f"![locations {name}](figures/locations_{name}.png)", "", f"![errors {name}](figures/errors_{name}.png)", ""]
    return lines


def _gmm_section(results, fig_dir) -> list[str]:
    lines = [
        "Ground-truth spikes clustered by a Gaussian mixture over their estimated (x, y) (and whitened "
        "peak-channel PCs), scored with `compare_sorter_to_ground_truth`. Best over the numbers of "
        "components tried; the figure shows the whole curve.", "",
    ]
    rows = []
    for res in results:
        if "gmm" not in res:
            continue
        for feature_set, by_method in res["gmm"].items():
            for method, curve in by_method.items():
                best = max(curve, key=lambda r: r["accuracy"])
                rows.append([res["scenario"]["name"], feature_set, method, best["n_components"],
                             format_number(best["accuracy"], 3), format_number(best["precision"], 3),
                             format_number(best["recall"], 3), best["num_well_detected"]])
    lines += markdown_table(["scenario", "features", "method", "best components", "accuracy", "precision", "recall",
                             "well detected"], rows)
    for res in results:
        if "gmm" not in res:
            continue
        name = res["scenario"]["name"]
        figures.plot_accuracy_vs_components(res, fig_dir / f"gmm_{name}.png")
        lines += [f"![gmm {name}](figures/gmm_{name}.png)", ""]
    return lines


def _sorters_section(results, fig_dir) -> list[str]:
    lines = [
        "`run_sorter` cases of a `spikeinterface.benchmark.SorterStudy` on the scenario's ground truth: the "
        "`location_sorter` (detection, localization, locations + 2 whitened PCs, mean shift) fed by each "
        "localization method, and an internal SpikeInterface sorter. Well detected: accuracy >= 0.8.", "",
    ]
    rows = []
    for res in results:
        if "sorters" not in res:
            continue
        for case, r in res["sorters"].iterrows():
            rows.append([res["scenario"]["name"], r["label"], int(r["num_gt"]), int(r["num_sorter"]),
                         int(r["num_well_detected"]), int(r.get("num_false_positive", 0)),
                         int(r.get("num_redundant", 0)), int(r.get("num_overmerged", 0)),
                         format_number(r["accuracy"], 3), format_number(r["precision"], 3),
                         format_number(r["recall"], 3), format_number(r["run_time_s"], 1),
                         format_number(r.get("peak_memory_mb", float("nan")), 0)])
    lines += markdown_table(["scenario", "case", "GT units", "found", "well detected", "false positive", "redundant",
                             "overmerged", "accuracy", "precision", "recall", "run time (s)", "peak memory (MB)"], rows)
    for res in results:
        if "sorters" not in res:
            continue
        name = res["scenario"]["name"]
        figures.plot_sorter_comparison(res, fig_dir / f"sorters_{name}.png")
        lines += [f"![sorters {name}](figures/sorters_{name}.png)", ""]
    return lines


def _generalization_section(results) -> list[str]:
    lines = [
        "Recording A holds other neurons than recording B (another seed: other templates, positions and spike "
        "trains; same probe and noise). Errors on B's ground-truth spikes. Wall time of 'trained on A' includes "
        "training on A.", "",
    ]
    rows = []
    for res in results:
        if "generalization" not in res:
            continue
        for label, s in res["generalization"]["rows"].items():
            rows.append([res["scenario"]["name"], label, f"{format_number(s['mean'])} +- {format_number(s['sd'])}",
                         format_number(s["median"]), format_number(s["wall_time_s"], 1)])
    return lines + markdown_table(["scenario (B)", "localizer", "mean +- sd (um)", "median (um)", "wall (s)"], rows)


def _wing_section(section: dict | None, fig_dir) -> list[str]:
    if section is None:
        return ["Not run.", ""]
    lines = [section.get("description", ""), ""]
    if section.get("status") != "ok":
        return lines + [f"Not available: {section.get('reason', 'unknown reason')}.", ""]
    for table in section.get("tables", []):
        lines += [f"**{table['title']}**", ""] + markdown_table(table["header"], table["rows"])
    for figure in section.get("figures", []):
        lines += [f"![{figure}](figures/{figure})", ""]
    return lines


def write_report(
    output,
    results: list[dict],
    config,
    *,
    wings: dict | None = None,
    run_info: dict | None = None,
) -> Path:
    """Write the report folder.

    Parameters
    ----------
    output : str | Path
        Report folder (created).
    results : list of dict
        One per scenario, from :func:`si_amortized.evaluation.evaluate.evaluate_scenario`.
    config : BenchmarkConfig
    wings : dict | None, default: None
        ``{"nemo": section, "rollae": section}`` from :mod:`si_amortized.evaluation.wings`, and ``"scale"``
        from :func:`si_amortized.evaluation.scale.measure_long_recording_memory`.
    run_info : dict | None, default: None
        Command line, versions, wall times, machine.

    Returns
    -------
    Path
        ``output / "report.md"``.
    """
    output = Path(output)
    fig_dir = output / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    wings = wings or {}
    run_info = run_info or {}
    lines = ["# si-amortized benchmark", ""]
    if run_info.get("command"):
        lines += [f"Command: `{run_info['command']}`", ""]
    lines += ["Scenarios (MEArec ground truth simulated with `si_amortized.datasets.simulate_recording`, cached):", ""]
    lines += markdown_table(
        ["scenario", "probe", "noise (uV)", "cells (E+I)", "duration (s)", "seed", "GT spikes",
         "spikes scored (localization, GMM)"],
        [[r["scenario"]["name"], r["scenario"]["probe"], format_number(r["scenario"]["noise_level"], 0),
          f"{r['scenario']['n_exc']}+{r['scenario']['n_inh']}", format_number(r["duration_s"], 1),
          r["scenario"]["seed"], r["num_spikes"], r["num_scored_spikes"]] for r in results],
    )
    builders = {
        "localization": lambda: _localization_section(results, fig_dir),
        "gmm": lambda: _gmm_section(results, fig_dir),
        "sorters": lambda: _sorters_section(results, fig_dir),
        "generalization": lambda: _generalization_section(results),
        "motion": lambda: _wing_section(wings.get("motion"), fig_dir),
        "nemo": lambda: _wing_section(wings.get("nemo"), fig_dir),
        "rollae": lambda: _wing_section(wings.get("rollae"), fig_dir),
        "scale": lambda: _scale_section(wings.get("scale")),
    }
    for section in config.sections:
        lines += [f"## {SECTION_TITLES[section]}", ""] + builders[section]()

    lines += ["## Wall times and memory", ""]
    rows = []
    for r in results:
        for step, seconds in r["wall_times"].items():
            rows.append([r["scenario"]["name"], step, format_number(seconds, 1)])
    for name, seconds in run_info.get("wall_times", {}).items():
        rows.append(["-", name, format_number(seconds, 1)])
    lines += markdown_table(["scenario", "step", "wall time (s)"], rows)
    peak = max([r["peak_rss_mb"] for r in results] + [run_info.get("peak_rss_mb", 0.0)])
    lines += [f"Peak resident memory of the benchmark process(es): {format_number(peak, 0)} MB.", ""]
    if run_info.get("machine"):
        lines += [f"Machine: {run_info['machine']}", ""]

    effective = dict(vae_epochs=config.effective_vae_epochs, max_spikes_per_unit=config.effective_max_spikes_per_unit,
                     sorter_localization_methods=list(config.effective_sorter_localization_methods),
                     scale_duration_s=config.effective_scale_duration_s)
    lines += ["## Parameters", "", "Benchmark configuration (`BenchmarkConfig`):", "", "```json",
              json.dumps(_jsonable(asdict(config)), indent=2), "```", "",
              "Values in effect for this size (-1 / null above):", "", "```json", json.dumps(effective, indent=2),
              "```", ""]
    if run_info.get("sorter_params"):
        lines += ["Location sorter parameters (defaults, overridden per case as above):", "", "```json",
                  json.dumps(_jsonable(run_info["sorter_params"]), indent=2), "```", ""]
    lines += ["## Versions", ""]
    lines += markdown_table(["package", "version"], [[k, v] for k, v in run_info.get("versions", {}).items()])

    (output / "report.md").write_text("\n".join(lines), encoding="utf8")
    payload = dict(config=asdict(config), run_info=run_info, scenarios=results, wings=wings)
    (output / "results.json").write_text(json.dumps(_jsonable(payload), indent=1, default=str), encoding="utf8")
    return output / "report.md"


def package_versions() -> dict:
    """Versions of the packages the benchmark depends on."""
    from importlib import metadata
    import sys

    versions = {"python": sys.version.split()[0]}
    for name in ("si_amortized", "spikeinterface", "probeinterface", "MEArec", "torch", "numpy", "scikit-learn",
                 "hdbscan", "dask", "distributed", "matplotlib"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions
