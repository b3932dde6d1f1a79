"""The main job on built-in data: ``si-amortized demo``.

Simulates a short MEArec recording from the packaged template library, builds a SortingAnalyzer from
the ground-truth sorting, computes SpikeInterface's standard extensions and the plugin's own, prints
how each compares with the ground truth, and writes one figure per method (:func:`write_demo_figures`).
"""

from __future__ import annotations

import time
import warnings
from pathlib import Path

import numpy as np

DEFAULT_FIGURES_FOLDER = "si_amortized_demo_figures"


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
    figures: str | Path | None = DEFAULT_FIGURES_FOLDER,
) -> "SortingAnalyzer":  # noqa: F821
    """Run the demo and return its SortingAnalyzer (see the module docstring).

    Parameters
    ----------
    probe : str, default: "SqMEA-10-15"
    duration : float, default: 20.0
        Seconds of simulated recording.
    n_exc, n_inh : int, default: 12, 4
        Excitatory / inhibitory cells.
    noise_level : float, default: 10.0
        Noise standard deviation in uV.
    seed : int, default: 0
    n_jobs : int, default: 1
    folder : str | Path | None, default: None
        Save the analyzer there (``binary_folder``); None keeps it in memory.
    figures : str | Path | None, default: "si_amortized_demo_figures"
        Folder for one PNG per method (:func:`write_demo_figures`), relative to the working directory;
        None writes no figure.

    Returns
    -------
    SortingAnalyzer
    """
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
    well_embeddings, well_labels = _rollae_step(seed)
    if figures is not None:
        t0 = _step(f"Figures, one per method, in {Path(figures).resolve()}")
        for path in write_demo_figures(analyzer, well_embeddings, well_labels, figures, seed=seed):
            print(f"   {path.name}")
        _done(t0)
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
    from .nemo.classifiers import cross_validate_probe

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
    """Train Roll-AE on the synthetic 16-class wells; returns ``(embeddings, class labels)`` of the wells."""
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
    return embeddings, labels["label"].to_numpy()


def write_demo_figures(
    analyzer, well_embeddings: np.ndarray, well_labels: np.ndarray, folder: str | Path, *, seed: int = 0
) -> list[Path]:
    """One PNG per method of the demo, written into ``folder`` (created).

    Drawn on matplotlib ``Figure`` objects (Agg rendering, nothing left open in pyplot), so any backend works.

    Parameters
    ----------
    analyzer : SortingAnalyzer
        With ``vae_locations`` and ``nemo_embeddings`` computed, on a sorting with the ``cell_type`` and
        ``gt_unit_locations`` properties (:func:`si_amortized.datasets.load_mearec`).
    well_embeddings : np.ndarray, shape (num_wells, embedding_dim)
        Roll-AE embeddings of the wells.
    well_labels : np.ndarray, shape (num_wells,)
        Class of each well.
    folder : str | Path
    seed : int, default: 0
        Seeds the subset of spikes drawn per unit and the 2D projections.

    Returns
    -------
    list of Path
        ``vae_locations.png``, ``nemo_embeddings.png``, ``rollae_embeddings.png``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    drawers = {
        "vae_locations.png": (_draw_vae_locations, (analyzer, seed), (7.0, 7.0)),
        "nemo_embeddings.png": (_draw_nemo_embeddings, (analyzer, seed), (6.0, 5.0)),
        "rollae_embeddings.png": (_draw_rollae_embeddings, (well_embeddings, well_labels, seed), (7.5, 5.0)),
    }
    paths = []
    for name, (draw, args, size) in drawers.items():
        paths.append(_save_figure(draw, args, size, folder / name))
    return paths


def _save_figure(draw, args, size, path: Path) -> Path:
    """``draw(ax, *args)`` on a new figure of ``size`` inches, saved to ``path`` at 120 dpi."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    draw(fig.add_subplot(), *args)
    fig.savefig(path, dpi=120)
    return path


def _draw_vae_locations(ax, analyzer, seed):
    from .plotting.localization import plot_spike_locations

    plot_spike_locations(analyzer, "vae_locations", ax=ax, seed=seed, max_spikes_per_unit=300, marker_size=4.0)
    ax.set_title("VAE spike locations (dots, one colour per unit)\nstars: ground-truth somas; squares: contacts")


def _draw_nemo_embeddings(ax, analyzer, seed):
    from .plotting.nemo import plot_nemo_embedding

    names = {"E": "excitatory", "I": "inhibitory"}
    cell_types = np.array([names.get(str(c), str(c)) for c in analyzer.sorting.get_property("cell_type")])
    plot_nemo_embedding(analyzer, cell_types, method="pca", ax=ax, seed=seed, s=40.0,
                        title=f"NEMO unit embeddings ({len(cell_types)} units), by cell type")


def _draw_rollae_embeddings(ax, embeddings, labels, seed):
    from .plotting.rollae import plot_well_embeddings

    import matplotlib

    classes = np.unique(labels)
    colours = matplotlib.colormaps["tab20" if len(classes) > 10 else "tab10"]
    ax.set_prop_cycle(color=[colours(i % colours.N) for i in range(len(classes))])  # one colour per class
    plot_well_embeddings(embeddings, conditions=[f"class {c}" for c in labels], ax=ax, seed=seed, legend=False, s=8)
    ax.legend(fontsize=7, markerscale=2.0, frameon=False, ncol=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    ax.set_title(f"Roll-AE embeddings of {len(labels)} synthetic wells, by class")
