"""Report sections of the NEMO and Roll-AE wings, through their public functions.

Each section has a compute function (numbers, from the wing's public API) and a format function (the
report's table and figure). ``nemo_section`` and ``rollae_section`` chain the two and return
``{"status": "ok" | "unavailable", "description", "tables", "figures", "reason"}``: a wing that is not
importable (ImportError), or whose pretrained model is missing (FileNotFoundError), gives ``"unavailable"``
with the reason, so the rest of the report still runs. Any other error raises.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .formatting import format_number


def _unavailable(description: str, error: BaseException) -> dict:
    return dict(status="unavailable", description=description, reason=f"{type(error).__name__}: {error}",
                tables=[], figures=[])


NEMO_DESCRIPTION = (
    "Unit embeddings of the ground-truth units of the first scenario (pretrained NEMO model, "
    "`analyzer.compute('nemo_embeddings')`), scored by a cross-validated linear probe (balanced accuracy, "
    "macro F1) for the cell class (E/I) and the m-type, against the same probe on the raw model inputs "
    "(normalized peak-channel waveform + 3D ACG image, flattened)."
)


def compute_nemo_section(recording, gt_sorting, *, seed: int = 0, job_kwargs: dict | None = None) -> dict:
    """NEMO probe scores on a ground-truth sorting (labels: ``cell_type`` and ``mtype`` properties).

    Parameters
    ----------
    recording, gt_sorting
        Ground truth from :func:`si_amortized.datasets.load_mearec`.
    seed : int, default: 0
    job_kwargs : dict | None, default: None

    Returns
    -------
    dict
        ``rows`` (one dict per task and feature set: ``task``, ``features``, ``units``, ``classes`` and the
        scores of :func:`si_amortized.nemo.classifiers.cross_validate_probe`), ``embeddings``
        (num_units, num_features), ``labels`` ({task: (num_units,)}), ``wall_s``.
    """
    from spikeinterface.core import create_sorting_analyzer

    from ..nemo import prepare_inputs
    from ..nemo.classifiers import cross_validate_probe

    t0 = time.perf_counter()
    job_kwargs = dict(dict(progress_bar=False), **(job_kwargs or {}))
    analyzer = create_sorting_analyzer(gt_sorting, recording, format="memory", sparse=False)
    analyzer.compute("random_spikes", max_spikes_per_unit=300, seed=seed)
    analyzer.compute("templates", **job_kwargs)
    embeddings = analyzer.compute("nemo_embeddings").get_data()
    acg, waveforms = prepare_inputs(analyzer)[:2]
    raw = np.concatenate([np.asarray(acg).reshape(len(acg), -1), np.asarray(waveforms).reshape(len(waveforms), -1)], 1)
    labels = {"cell class (E/I)": np.asarray(gt_sorting.get_property("cell_type")),
              "m-type": np.asarray(gt_sorting.get_property("mtype"))}
    rows = []
    for task, y in labels.items():
        keep = np.isin(y, [c for c, n in zip(*np.unique(y, return_counts=True)) if n >= 2])
        if len(np.unique(y[keep])) < 2:
            continue
        for name, features in (("NEMO embedding", embeddings), ("raw inputs", raw)):
            scores = cross_validate_probe(np.asarray(features)[keep], y[keep], "linear", seed=seed)
            rows.append(dict(task=task, features=name, units=int(keep.sum()), classes=len(np.unique(y[keep])),
                             **scores))
    return dict(rows=rows, embeddings=embeddings, labels=labels, wall_s=time.perf_counter() - t0)


def format_nemo_section(result: dict, fig_dir) -> dict:
    """The report section of :func:`compute_nemo_section`'s result; writes ``fig_dir / "nemo_embedding.png"``."""
    from .figures import plot_embedding

    fig_name = "nemo_embedding.png"
    plot_embedding(result["embeddings"], result["labels"]["m-type"], Path(fig_dir) / fig_name,
                   "NEMO embeddings (PCA), by m-type")
    rows = [[r["task"], r["features"], r["units"], r["classes"],
             f"{format_number(r['balanced_accuracy'], 3)} +- {format_number(r['balanced_accuracy_std'], 3)}",
             format_number(r["macro_f1"], 3)] for r in result["rows"]]
    return dict(
        status="ok", description=NEMO_DESCRIPTION, figures=[fig_name],
        tables=[dict(title=f"Linear probe, {len(result['embeddings'])} units (wall {result['wall_s']:.1f} s)",
                     header=["task", "features", "units", "classes", "balanced accuracy", "macro F1"],
                     rows=rows)],
    )


def nemo_section(recording, gt_sorting, fig_dir, *, seed: int = 0, job_kwargs: dict | None = None) -> dict:
    """NEMO probe accuracies on a ground-truth sorting, as a report section.

    Parameters
    ----------
    recording, gt_sorting
        Ground truth from :func:`si_amortized.datasets.load_mearec`.
    fig_dir : str | Path
        Where ``nemo_embedding.png`` is written.
    seed : int, default: 0
    job_kwargs : dict | None, default: None
    """
    try:
        from ..nemo import load_pretrained_model

        load_pretrained_model()
    except (ImportError, FileNotFoundError) as error:  # the wing is not there, or its pretrained model is missing
        return _unavailable(NEMO_DESCRIPTION, error)
    return format_nemo_section(compute_nemo_section(recording, gt_sorting, seed=seed, job_kwargs=job_kwargs), fig_dir)


ROLLAE_DESCRIPTION = (
    "The Roll-AE paper's synthetic 16-class task (two levels of sporadic spiking, single-electrode bursts, "
    "cyclic bursts and network bursts on an 8-electrode 3-2-3 well): accuracy of a linear probe on the "
    "embeddings of held-out wells, Roll-AE against PCA and the shift-invariant hand-crafted neural metrics."
)

ROLLAE_SIZES = {"tiny": (10, 3), "quick": (40, 20), "full": (200, 200)}


def compute_rollae_section(*, size: str = "quick", seed: int = 0) -> dict:
    """Roll-AE task accuracies on the paper's synthetic wells.

    Parameters
    ----------
    size : "tiny" | "quick" | "full", default: "quick"
        Wells per class (10 / 40 / 200) and training epochs (3 / 20 / 200).
    seed : int, default: 0

    Returns
    -------
    dict
        ``rows`` (``features``, ``dimensions``, ``accuracy`` on the held-out wells), ``num_train``,
        ``num_test``, ``epochs``, ``test_embeddings`` (num_test, dim), ``test_labels``, ``wall_s``.
    """
    from sklearn.decomposition import PCA

    from ..rollae.estimator import RollAE
    from ..rollae.symmetry import axion_323_positions
    from ..rollae.synthetic import make_synthetic_dataset
    from ..scoring import probe_scores

    t0 = time.perf_counter()
    n_per_class, epochs = ROLLAE_SIZES[size]
    x_train, labels_train = make_synthetic_dataset(n_per_class=n_per_class, seed=seed)
    x_test, labels_test = make_synthetic_dataset(n_per_class=max(5, n_per_class // 2), seed=seed + 1)
    y_train, y_test = labels_train["label"].to_numpy(), labels_test["label"].to_numpy()

    def accuracy(train_x, test_x):  # standardised L2 logistic regression, C = 1
        return probe_scores(train_x, y_train, test_x, y_test, max_iter=2000, seed=seed)["accuracy"]

    dim = 32 if size != "full" else 512
    model = RollAE(electrode_positions=axion_323_positions(), embedding_dim=dim, epochs=epochs, seed=seed)
    emb_train = model.fit(x_train).transform(x_train)
    emb_test = model.transform(x_test)
    rows = [dict(features="Roll-AE", dimensions=dim, accuracy=accuracy(emb_train, emb_test))]
    flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
    pca = PCA(n_components=dim, random_state=seed).fit(flat_train)
    rows.append(dict(features="PCA", dimensions=dim,
                     accuracy=accuracy(pca.transform(flat_train), pca.transform(flat_test))))
    try:
        from ..rollae.metrics import NeuralMetricsConfig, neural_metrics_table
    except ImportError:  # the metrics baseline landed later than the estimator
        neural_metrics_table = None
    if neural_metrics_table is not None:
        metrics_config = NeuralMetricsConfig.for_bins()
        m_train = neural_metrics_table(x_train, config=metrics_config, fill_value=0.0).to_numpy(float)
        m_test = neural_metrics_table(x_test, config=metrics_config, fill_value=0.0).to_numpy(float)
        rows.append(dict(features="neural metrics", dimensions=m_train.shape[1], accuracy=accuracy(m_train, m_test)))
    return dict(rows=rows, num_train=len(x_train), num_test=len(x_test), epochs=epochs, test_embeddings=emb_test,
                test_labels=y_test, wall_s=time.perf_counter() - t0)


def format_rollae_section(result: dict, fig_dir) -> dict:
    """The report section of :func:`compute_rollae_section`'s result; writes ``fig_dir / "rollae_embedding.png"``."""
    from .figures import plot_embedding

    plot_embedding(result["test_embeddings"], result["test_labels"], Path(fig_dir) / "rollae_embedding.png",
                   "Roll-AE embeddings (PCA), by class")
    rows = [[r["features"], r["dimensions"], format_number(r["accuracy"], 3)] for r in result["rows"]]
    return dict(
        status="ok", description=ROLLAE_DESCRIPTION, figures=["rollae_embedding.png"],
        tables=[dict(title=f"16-class task, {result['num_train']} training / {result['num_test']} test wells, "
                           f"{result['epochs']} epochs (wall {result['wall_s']:.1f} s)",
                     header=["features", "dimensions", "test accuracy"], rows=rows)],
    )


def rollae_section(fig_dir, *, size: str = "quick", seed: int = 0) -> dict:
    """Roll-AE task accuracies on the paper's synthetic wells, as a report section.

    Parameters
    ----------
    fig_dir : str | Path
        Where ``rollae_embedding.png`` is written.
    size : "tiny" | "quick" | "full", default: "quick"
        Wells per class (10 / 40 / 200) and training epochs (3 / 20 / 200).
    seed : int, default: 0
    """
    try:
        from ..rollae import estimator  # noqa: F401
    except ImportError as error:  # the wing is not there
        return _unavailable(ROLLAE_DESCRIPTION, error)
    return format_rollae_section(compute_rollae_section(size=size, seed=seed), fig_dir)
