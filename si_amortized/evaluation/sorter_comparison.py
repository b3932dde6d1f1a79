"""The sorter comparison of the report, run by SpikeInterface's ``SorterStudy``.

Cases: the location sorter fed by VAE locations, the same pipeline fed by ``center_of_mass`` and
``monopolar_triangulation`` locations, and one of SpikeInterface's internal sorters, all on the same
ground truth.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np

from .. import sorters as _sorters  # noqa: F401  (registers "location_sorter" with spikeinterface.sorters)
from .memory import PeakTreeMemory
from .peer_recordings import ChannelLocationPropertyRecording, needs_location_property

#: File of a study folder with each case's peak memory (MB), written by :func:`run_sorter_study`.
PEAK_MEMORY_FILE = "peak_memory_mb.json"


#: Sorters the study compares against when they are installed: SpikeInterface's internal ones, then the
#: peers of the optional ``peers`` extra (``pip install "si_amortized[peers]"``).
PEER_SORTERS = ("spykingcircus2", "tridesclous2", "lupin", "herdingspikes", "mountainsort5", "kilosort4", "dartsort")


def installed_peers(names=PEER_SORTERS) -> tuple[list[str], dict]:
    """Which of ``names`` can run here.

    Returns
    -------
    installed : list of str
    absent : dict of str -> str
        Name -> why it cannot run (unknown to SpikeInterface, or its package is not installed), so that a
        report lists it instead of dropping it silently.
    """
    from spikeinterface.sorters import available_sorters, installed_sorters

    known, ready = set(available_sorters()), set(installed_sorters())
    installed, absent = [], {}
    for name in names:
        if name not in known:
            absent[name] = "unknown to spikeinterface.sorters"
        elif name not in ready:
            absent[name] = "not installed (pip install 'si_amortized[peers]')"
        else:
            installed.append(name)
    return installed, absent


def location_dataset(dataset: str) -> str:
    """Key of the study's copy of ``dataset`` for sorters that read the ``"location"`` channel property."""
    return f"{dataset}-location-property"


def sorter_cases(
    dataset: str,
    *,
    localization_methods=("vae", "center_of_mass", "monopolar_triangulation"),
    internal_sorter: str | None = "tridesclous2",
    peers=(),
    vae_epochs: int | None = None,
    location_sorter_params: dict | None = None,
    job_kwargs: dict | None = None,
) -> dict:
    """``SorterStudy`` cases: ``{case_key: {"label", "dataset", "params"}}``.

    Parameters
    ----------
    dataset : str
        Dataset key of the study.
    localization_methods : sequence of str
        One location-sorter case per method.
    internal_sorter : str | None, default: "tridesclous2"
        A SpikeInterface sorter to compare against; None leaves it out.
    peers : sequence of str, default: ()
        More sorters to compare against; those not installed are left out (see :func:`installed_peers`).
    vae_epochs : int | None, default: None
        Training epochs of the VAE localizer (None: the localizer's default).
    location_sorter_params : dict | None, default: None
        Extra parameters of the location sorter (all its cases).
    job_kwargs : dict | None, default: None
    """
    cases = {}
    job_kwargs = dict(job_kwargs or {})
    for method in localization_methods:
        localization_kwargs = {}
        if method == "vae" and vae_epochs is not None:
            localization_kwargs["epochs"] = int(vae_epochs)
        params = dict(
            sorter_name="location_sorter", localization_method=method, localization_kwargs=localization_kwargs,
            job_kwargs=job_kwargs, **(location_sorter_params or {}),
        )
        cases[f"location_sorter[{method}]"] = dict(label=f"locations: {method}", dataset=dataset, params=params)
    others = ([internal_sorter] if internal_sorter is not None else []) + list(peers)
    installed, _ = installed_peers(others)
    for name in dict.fromkeys(installed):
        params = dict(sorter_name=name)
        if job_kwargs and name in ("spykingcircus2", "tridesclous2", "lupin", "simple"):
            params["job_kwargs"] = job_kwargs
        # herdingspikes reads channel positions from a property recordings no longer carry: it sorts a copy
        # of the dataset that has it (same traces, same ground truth)
        on = location_dataset(dataset) if needs_location_property(name) else dataset
        cases[name] = dict(label=name, dataset=on, params=params)
    return cases


def run_sorter_study(study_folder, recording, gt_sorting, cases: dict, *, dataset: str = "gt", overwrite: bool = True):
    """Create, run and score a ``SorterStudy``.

    Parameters
    ----------
    study_folder : str | Path
    recording, gt_sorting
        The ground truth; ``gt_sorting`` should carry ``gt_unit_locations``.
    cases : dict
        From :func:`sorter_cases` (with the same ``dataset`` key). Cases on ``location_dataset(dataset)``
        (herdingspikes) get the recording with its ``"location"`` channel property.
    dataset : str, default: "gt"
    overwrite : bool, default: True
        Remove an existing study folder first.

    Returns
    -------
    spikeinterface.benchmark.SorterStudy
        Run, with results computed. The cases run one after the other; the resident memory of the process
        and its workers at the start of each and its peak during it are written to
        ``<study_folder>/peak_memory_mb.json`` (:class:`~si_amortized.evaluation.memory.PeakTreeMemory`).
    """
    from spikeinterface.benchmark import SorterStudy

    study_folder = Path(study_folder)
    if study_folder.exists() and overwrite:
        shutil.rmtree(study_folder)
    datasets = {dataset: (recording, gt_sorting)}
    if any(case["dataset"] == location_dataset(dataset) for case in cases.values()):
        datasets[location_dataset(dataset)] = (ChannelLocationPropertyRecording(recording), gt_sorting)
    study = SorterStudy.create(study_folder, datasets=datasets, cases=cases)
    peaks = {}
    for key in study.cases:  # one at a time, each under its own memory watch
        with PeakTreeMemory() as memory:
            study.run(case_keys=[key])
        peaks[str(key)] = dict(peak_mb=round(memory.peak_mb, 1), start_mb=round(memory.start_mb, 1))
        (study_folder / PEAK_MEMORY_FILE).write_text(json.dumps(peaks, indent=1))
    study.compute_results()
    return study


def summarize_study(study, well_detected_score: float = 0.8):
    """One row per case: unit counts, mean accuracy / precision / recall, run time.

    Returns
    -------
    pandas.DataFrame
        Index: case keys. Columns ``label``, ``num_gt``, ``num_sorter``, ``num_well_detected``,
        ``num_false_positive``, ``num_redundant``, ``num_overmerged``, ``accuracy``, ``precision``,
        ``recall``, ``run_time_s``, ``peak_memory_mb`` (the process tree's peak while the case ran) and
        ``added_memory_mb`` (that peak minus the memory held when the case started); both NaN for a study not
        run by :func:`run_sorter_study`.
    """
    import pandas as pd

    counts = study.get_count_units(well_detected_score=well_detected_score)
    run_times = study.get_run_times()
    memory_file = Path(study.folder) / PEAK_MEMORY_FILE
    peak_memory = json.loads(memory_file.read_text()) if memory_file.exists() else {}
    rows = []
    for key in study.cases:
        comparison = study.get_result(key)["gt_comparison"]
        perf = comparison.get_performance(method="by_unit")
        row = dict(case=key, label=study.cases[key]["label"])
        for column in ("num_gt", "num_sorter", "num_well_detected", "num_false_positive", "num_redundant",
                       "num_overmerged"):
            if column in counts.columns:
                row[column] = int(counts.loc[key, column])
        for metric in ("accuracy", "precision", "recall"):
            row[metric] = float(np.nanmean(perf[metric].astype(float)))
        row["run_time_s"] = float(run_times.loc[key, "run_times"])
        memory = peak_memory.get(str(key), dict(peak_mb=np.nan, start_mb=np.nan))
        row["peak_memory_mb"] = float(memory["peak_mb"])
        row["added_memory_mb"] = float(memory["peak_mb"] - memory["start_mb"])
        rows.append(row)
    return pd.DataFrame(rows).set_index("case")


def accuracy_by_snr(study, snr_property: str = "snr"):
    """Each ground-truth unit's accuracy in every case, next to its SNR (for accuracy-vs-SNR figures).

    Parameters
    ----------
    study : spikeinterface.benchmark.SorterStudy
        With results computed.
    snr_property : str, default: "snr"
        Property of the ground-truth sorting holding the SNR (:func:`~si_amortized.datasets.load_mearec`
        sets it).

    Returns
    -------
    pandas.DataFrame | None
        Index: ground-truth unit ids; column ``snr`` then one accuracy column per case label. None when the
        ground truth has no ``snr_property``.
    """
    import pandas as pd

    table = None
    for key in study.cases:
        comparison = study.get_result(key)["gt_comparison"]
        if table is None:
            gt = comparison.sorting1
            if snr_property not in gt.get_property_keys():
                return None
            table = pd.DataFrame({"snr": np.asarray(gt.get_property(snr_property), dtype=float)}, index=gt.unit_ids)
        accuracy = comparison.get_performance(method="by_unit")["accuracy"].astype(float)
        table[study.cases[key]["label"]] = accuracy.reindex(table.index).to_numpy()
    return table
