"""The main job on built-in data: ``si-amortized demo``.

Simulates a short MEArec recording from the packaged template library, builds a SortingAnalyzer from
the ground-truth sorting, computes SpikeInterface's standard extensions and the plugin's own, and
prints how each compares with the ground truth.
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np


def _step(title: str):
    print(f"\n== {title}", flush=True)
    return time.perf_counter()


def _done(t0: float) -> None:
    print(f"   ({time.perf_counter() - t0:.1f} s)", flush=True)


def ground_truth_table(analyzer) -> "pd.DataFrame":  # noqa: F821
    """One row per unit: ground truth (type, m-type, SNR, rate, soma) and SpikeInterface's estimated location.

    Parameters
    ----------
    analyzer : SortingAnalyzer
        Built on a sorting loaded with :func:`si_amortized.datasets.load_mearec` and with ``unit_locations``.

    Returns
    -------
    pandas.DataFrame
        Indexed by unit id; ``loc_error_um`` is the 2D distance between estimated and true soma.
    """
    import pandas as pd

    sorting = analyzer.sorting
    gt = sorting.get_property("gt_unit_locations")
    est = analyzer.get_extension("unit_locations").get_data()
    counts = sorting.count_num_spikes_per_unit(outputs="array")
    table = pd.DataFrame(
        {
            "cell_type": sorting.get_property("cell_type"),
            "mtype": sorting.get_property("mtype"),
            "snr": np.round(sorting.get_property("snr").astype(float), 1),
            "num_spikes": counts,
            "gt_x": gt[:, 0].round(1),
            "gt_y": gt[:, 1].round(1),
            "gt_z": gt[:, 2].round(1),
            "est_x": est[:, 0].round(1),
            "est_y": est[:, 1].round(1),
            "loc_error_um": np.linalg.norm(est[:, :2] - gt[:, :2], axis=1).round(1),
        },
        index=pd.Index(sorting.unit_ids, name="unit_id"),
    )
    return table


def run_demo(
    *,
    probe: str = "SqMEA-10-15",
    duration: float = 20.0,
    n_exc: int = 12,
    n_inh: int = 4,
    noise_level: float = 10.0,
    seed: int = 0,
    n_jobs: int = 1,
    folder: str | Path | None = None,
) -> "SortingAnalyzer":  # noqa: F821
    """Run the demo and return its SortingAnalyzer (see the module docstring)."""
    import pandas as pd
    import spikeinterface.core as si
    import spikeinterface.postprocessing  # noqa: F401  (registers unit_locations)

    import si_amortized  # noqa: F401  (registers the plugin's extensions)
    from si_amortized.datasets import load_mearec, simulate_recording

    job_kwargs = dict(n_jobs=n_jobs, progress_bar=True, chunk_duration="1s")

    t0 = _step(f"Simulating {duration:g} s of MEArec ground truth on {probe} ({n_exc} E + {n_inh} I cells, "
               f"noise {noise_level:g} uV) from the packaged template library")
    path = simulate_recording(
        probe, n_exc=n_exc, n_inh=n_inh, duration=duration, noise_level=noise_level, seed=seed, verbose=False
    )
    recording, sorting = load_mearec(path)
    print(f"   {path}")
    print(f"   {recording.get_num_channels()} channels at {recording.sampling_frequency:.0f} Hz, "
          f"{sorting.get_num_units()} units, {sorting.count_total_num_spikes()} spikes")
    _done(t0)

    t0 = _step("SortingAnalyzer on the ground-truth sorting: templates, noise levels, unit locations")
    analyzer = si.create_sorting_analyzer(
        sorting, recording, sparse=True, format="binary_folder" if folder else "memory",
        folder=folder, overwrite=True, seed=seed, job_kwargs=job_kwargs,
    )
    analyzer.compute(["random_spikes", "waveforms", "templates", "noise_levels"], **job_kwargs)
    analyzer.compute("unit_locations", method="monopolar_triangulation")
    _done(t0)

    with pd.option_context("display.width", 140, "display.max_columns", 20):
        table = ground_truth_table(analyzer)
        print(table.to_string())
        print(f"   monopolar_triangulation unit locations: median 2D error to the soma "
              f"{table['loc_error_um'].median():.1f} um")
        cell_types = {k: int(v) for k, v in table["cell_type"].value_counts().items()}
        mtypes = {k: int(v) for k, v in table["mtype"].value_counts().items()}
        print(f"   cell types: {cell_types}; m-types: {mtypes}")

    _vae_step(analyzer, job_kwargs, seed)
    _nemo_step(analyzer)
    _rollae_step(seed)
    print("\nDone.")
    return analyzer


def _vae_step(analyzer, job_kwargs, seed):
    from .evaluation.localization import location_errors

    t0 = _step("vae_locations: VAE spike localization (trained on this recording), against center_of_mass")
    analyzer.compute("vae_locations", epochs=10, seed=seed, **job_kwargs)
    analyzer.compute("spike_locations", method="center_of_mass", **job_kwargs)
    unit_indices = analyzer.sorting.to_spike_vector()["unit_index"]
    for name in ("vae_locations", "spike_locations"):
        errors = location_errors(analyzer.get_extension(name).get_data(), unit_indices,
                                 analyzer.sorting.get_property("gt_unit_locations"))
        label = "vae" if name == "vae_locations" else "center_of_mass"
        print(f"   {label:>15}: per-spike 2D error to the soma {np.nanmean(errors):.1f} +- {np.nanstd(errors):.1f} um "
              f"(median {np.nanmedian(errors):.1f})")
    _done(t0)


def _nemo_step(analyzer):
    from .nemo.probes import cross_validate_probe

    t0 = _step("nemo_embeddings: NEMO unit embeddings (packaged model), linear probe of E/I")
    embeddings = analyzer.compute("nemo_embeddings").get_data()
    cell_types = analyzer.sorting.get_property("cell_type")
    print(f"   embeddings {embeddings.shape}")
    if min(np.unique(cell_types, return_counts=True)[1]) >= 2:
        scores = cross_validate_probe(embeddings, cell_types, "linear")
        print(f"   E/I linear probe, cross-validated balanced accuracy {scores['balanced_accuracy']:.2f}, "
              f"macro F1 {scores['macro_f1']:.2f}")
    _done(t0)


def _rollae_step(seed):
    from sklearn.exceptions import ConvergenceWarning

    from .rollae import RollAE, axion_323_positions, classify_wells, make_synthetic_dataset

    t0 = _step("Roll-AE well embeddings: the paper's synthetic 16-class task (3-2-3 well), exact invariance")
    X, labels = make_synthetic_dataset(n_per_class=50, n_bins=200, seed=seed)
    model = RollAE(axion_323_positions(), embedding_dim=64, epochs=10, seed=seed).fit(X)
    embeddings = model.transform(X)
    rolled = model.transform(np.roll(X[:8, ::-1], 37, axis=-1))  # time shift + electrode reversal
    change = np.abs(rolled - embeddings[:8]).max() / np.abs(embeddings[:8]).max()
    print(f"   {len(X)} wells {X.shape[1:]} -> embeddings {embeddings.shape}; relative change after a time shift "
          f"and the layout's point reflection: {change:.1e}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", FutureWarning)
        accuracy = classify_wells(embeddings, labels["label"], seed=seed)["accuracy"]
    print(f"   16-class test accuracy of a logistic regression on the embeddings: {accuracy:.2f} (chance 0.06)")
    _done(t0)

