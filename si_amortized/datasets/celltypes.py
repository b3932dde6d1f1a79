"""Cell-type MEArec analyzers: simulated recordings with cell-type-specific firing, for pretraining and
benchmarking NEMO.

Each recording places ``units_per_mtype`` cells of each of the 13 BBP m-types on the probe (templates from the
packaged library, optionally only one fold of it so that test cells are never seen in training), drives them
with :mod:`.firing` spike trains, adds noise, and returns a SortingAnalyzer whose templates are estimated
from a limited number of spikes per unit (as a sorter's would be), with the ground truth as sorting properties.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .firing import MTYPES, mearec_default_spike_trains, simulate_spike_trains
from .mearec import load_mearec, simulate_recording
from .templates import TemplateLibrary, load_template_library

__all__ = ["library_fold", "simulate_celltype_analyzer"]


def library_fold(probe: str = "SqMEA-10-15", part: str = "train", num_test_per_mtype: int = 4):
    """A subset of the packaged template library: per m-type, the last ``num_test_per_mtype`` templates form
    the ``"test"`` fold and the others the ``"train"`` fold (``"all"`` = everything)."""
    lib = load_template_library(probe)
    if part == "all":
        return lib
    if part not in ("train", "test"):
        raise ValueError("part must be 'train', 'test' or 'all'")
    mtypes = lib.mtypes
    keep = np.zeros(len(mtypes), dtype=bool)
    for m in np.unique(mtypes):
        idx = np.flatnonzero(mtypes == m)
        test = idx[len(idx) - num_test_per_mtype :]
        keep[test if part == "test" else np.setdiff1d(idx, test)] = True
    return lib.subset(keep)


def simulate_celltype_analyzer(
    seed: int,
    *,
    output: str | Path,
    duration: float = 60.0,
    units_per_mtype: int = 2,
    mtypes=MTYPES,
    noise_level: float = 25.0,
    template_fold: str = "train",
    spikes_for_templates: int | None = 300,
    firing_jitter: float = 1.0,
    probe: str = "SqMEA-10-15",
    min_dist: float = 10.0,
    firing: str = "celltype",
    templates: TemplateLibrary | None = None,
):
    """Simulate one recording and return ``(sorting_analyzer, path)``.

    Parameters
    ----------
    seed : int
        Seeds the m-type order, the spike trains and MEArec.
    output : str | Path
        MEArec file to write (int16).
    duration : float, default: 60.0
    units_per_mtype : int, default: 2
    mtypes : sequence of str, default: all 13
    noise_level : float, default: 25.0
        uV, before MEArec's band-pass filter.
    template_fold : "train" | "test" | "all", default: "train"
        Fold of the packaged library the cells are drawn from (ignored when ``templates`` is given).
    spikes_for_templates : int | None, default: 300
        Templates are averages of at most this many random spikes per unit; None = every spike.
    firing_jitter : float, default: 1.0
        Spread of per-unit firing parameters around their m-type's profile (``firing="celltype"``).
    probe : str, default: "SqMEA-10-15"
    min_dist : float, default: 10.0
    firing : "celltype" | "mearec", default: "celltype"
        ``"celltype"``: the m-type firing models of :mod:`.firing`; ``"mearec"``: MEArec's default Poisson
        trains, whose rate depends on E/I only (:func:`~.firing.mearec_default_spike_trains`).
    templates : TemplateLibrary | None, default: None
        Cells to draw from instead of the packaged library (e.g. :func:`~.templates.simulate_templates` of
        another seed, for test cells no packaged model has seen).

    Returns
    -------
    sorting_analyzer : SortingAnalyzer
        In memory, dense, with ``random_spikes`` and ``templates``; sorting properties ``mtype``, ``cell_type``,
        ``gt_unit_locations``, ...
    path : Path
    """
    import spikeinterface as si

    rng = np.random.default_rng(seed)
    cell_models = list(rng.permutation(np.repeat(np.asarray(mtypes), units_per_mtype)))
    if firing == "celltype":
        trains = simulate_spike_trains(cell_models, duration, seed=seed, jitter=firing_jitter)
    elif firing == "mearec":
        trains = mearec_default_spike_trains(cell_models, duration, seed=seed)
    else:
        raise ValueError(f"firing must be 'celltype' or 'mearec', not {firing!r}")
    path = simulate_recording(
        probe,
        spike_trains=trains,
        cell_models=cell_models,
        duration=duration,
        noise_level=noise_level,
        seed=seed,
        templates=library_fold(probe, template_fold) if templates is None else templates,
        min_dist=min_dist,
        dtype="int16",
        output=output,
        overwrite=True,
    )
    recording, sorting = load_mearec(path)
    analyzer = si.create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
    if spikes_for_templates is None:
        analyzer.compute("random_spikes", method="all")
    else:
        analyzer.compute("random_spikes", method="uniform", max_spikes_per_unit=int(spikes_for_templates), seed=seed)
    analyzer.compute("templates", ms_before=1.5, ms_after=2.5, progress_bar=False)
    return analyzer, Path(path)
