"""Report sections of the NEMO and Roll-AE wings, through their public functions.

Each section returns ``{"status": "ok" | "unavailable", "description", "tables", "figures", "reason"}``.
A wing that is not importable, or whose pretrained model is missing, gives ``"unavailable"`` with the
reason, so the rest of the report still runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .report import _num


def _unavailable(description: str, error: BaseException) -> dict:
    return dict(status="unavailable", description=description, reason=f"{type(error).__name__}: {error}",
                tables=[], figures=[])


NEMO_DESCRIPTION = (
    "Unit embeddings of the ground-truth units of the first scenario (pretrained NEMO model, "
    "`analyzer.compute('nemo_embeddings')`), scored by a cross-validated linear probe (balanced accuracy, "
    "macro F1) for the cell class (E/I) and the m-type, against the same probe on the raw model inputs "
    "(normalised peak-channel waveform + 3D ACG image, flattened)."
)


def nemo_section(recording, gt_sorting, fig_dir, *, seed: int = 0, job_kwargs: dict | None = None) -> dict:
    """NEMO probe accuracies on a ground-truth sorting (labels: ``cell_type`` and ``mtype`` properties).

    Parameters
    ----------
    recording, gt_sorting
        Ground truth from :func:`si_amortized.datasets.load_mearec`.
    fig_dir : str | Path
        Where ``nemo_embedding_<name>.png`` is written.
    seed : int, default: 0
    job_kwargs : dict | None, default: None
    """
    try:
        from spikeinterface.core import create_sorting_analyzer

        from ..nemo import prepare_inputs
        from ..nemo.probes import cross_validate_probe
    except Exception as error:  # the wing is not there (yet)
        return _unavailable(NEMO_DESCRIPTION, error)
    try:
        t0 = time.perf_counter()
        job_kwargs = dict(dict(progress_bar=False), **(job_kwargs or {}))
        analyzer = create_sorting_analyzer(gt_sorting, recording, format="memory", sparse=False)
        analyzer.compute("random_spikes", max_spikes_per_unit=300, seed=seed)
        analyzer.compute("templates", **job_kwargs)
        embeddings = analyzer.compute("nemo_embeddings").get_data()
        acg, waveforms = prepare_inputs(analyzer)[:2]
        raw = np.concatenate([np.asarray(acg).reshape(len(acg), -1), np.asarray(waveforms).reshape(len(waveforms), -1)], 1)
        tables_rows = []
        labels = {"cell class (E/I)": np.asarray(gt_sorting.get_property("cell_type")),
                  "m-type": np.asarray(gt_sorting.get_property("mtype"))}
        for task, y in labels.items():
            keep = np.isin(y, [c for c, n in zip(*np.unique(y, return_counts=True)) if n >= 2])
            if len(np.unique(y[keep])) < 2:
                continue
            for name, features in (("NEMO embedding", embeddings), ("raw inputs", raw)):
                scores = cross_validate_probe(np.asarray(features)[keep], y[keep], "linear", seed=seed)
                tables_rows.append([task, name, int(keep.sum()), len(np.unique(y[keep])),
                                    f"{_num(scores['balanced_accuracy'], 3)} +- {_num(scores['balanced_accuracy_std'], 3)}",
                                    _num(scores["macro_f1"], 3)])
        from .figures import plot_embedding

        fig_name = "nemo_embedding.png"
        plot_embedding(embeddings, labels["m-type"], Path(fig_dir) / fig_name, "NEMO embeddings (PCA), by m-type")
        return dict(
            status="ok", description=NEMO_DESCRIPTION, figures=[fig_name],
            tables=[dict(title=f"Linear probe, {len(embeddings)} units (wall {time.perf_counter() - t0:.1f} s)",
                         header=["task", "features", "units", "classes", "balanced accuracy", "macro F1"],
                         rows=tables_rows)],
        )
    except Exception as error:
        return _unavailable(NEMO_DESCRIPTION, error)


ROLLAE_DESCRIPTION = (
    "The Roll-AE paper's synthetic 16-class task (two levels of sporadic spiking, single-electrode bursts, "
    "cyclic bursts and network bursts on an 8-electrode 3-2-3 well): accuracy of a linear probe on the "
    "embeddings of held-out wells, Roll-AE against PCA and the shift-invariant hand-crafted neural metrics."
)


def _linear_probe_accuracy(train_x, train_y, test_x, test_y, seed) -> float:
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, random_state=seed))
    probe.fit(train_x, train_y)
    return float(np.mean(probe.predict(test_x) == test_y))


def rollae_section(fig_dir, *, size: str = "quick", seed: int = 0) -> dict:
    """Roll-AE task accuracies on the paper's synthetic wells.

    Parameters
    ----------
    fig_dir : str | Path
        Where ``rollae_embedding.png`` is written.
    size : "tiny" | "quick" | "full", default: "quick"
        Wells per class (10 / 40 / 200) and training epochs (3 / 20 / 200).
    seed : int, default: 0
    """
    try:
        from ..rollae.estimator import RollAE
        from ..rollae.symmetry import axion_323_positions
        from ..rollae.synthetic import make_synthetic_dataset
    except Exception as error:
        return _unavailable(ROLLAE_DESCRIPTION, error)
    try:
        from sklearn.decomposition import PCA

        t0 = time.perf_counter()
        n_per_class, epochs = {"tiny": (10, 3), "quick": (40, 20), "full": (200, 200)}[size]
        x_train, y_train = make_synthetic_dataset(n_per_class=n_per_class, seed=seed)
        x_test, y_test = make_synthetic_dataset(n_per_class=max(5, n_per_class // 2), seed=seed + 1)
        y_train, y_test = y_train["label"].to_numpy(), y_test["label"].to_numpy()
        dim = 32 if size != "full" else 512
        model = RollAE(electrode_positions=axion_323_positions(), embedding_dim=dim, epochs=epochs, seed=seed)
        emb_train = model.fit(x_train).transform(x_train)
        emb_test = model.transform(x_test)
        rows = [["Roll-AE", dim, _num(_linear_probe_accuracy(emb_train, y_train, emb_test, y_test, seed), 3)]]
        flat_train, flat_test = x_train.reshape(len(x_train), -1), x_test.reshape(len(x_test), -1)
        pca = PCA(n_components=dim, random_state=seed).fit(flat_train)
        rows.append(["PCA", dim, _num(_linear_probe_accuracy(pca.transform(flat_train), y_train, pca.transform(flat_test),
                                                             y_test, seed), 3)])
        try:
            from ..rollae.metrics import NeuralMetricsConfig, neural_metrics_table
        except ImportError:  # the metrics baseline landed later than the estimator
            neural_metrics_table = None
        if neural_metrics_table is not None:
            metrics_config = NeuralMetricsConfig.for_bins()
            m_train = neural_metrics_table(x_train, config=metrics_config, fill_value=0.0).to_numpy(float)
            m_test = neural_metrics_table(x_test, config=metrics_config, fill_value=0.0).to_numpy(float)
            rows.append(["neural metrics", m_train.shape[1],
                         _num(_linear_probe_accuracy(m_train, y_train, m_test, y_test, seed), 3)])
        from .figures import plot_embedding

        plot_embedding(emb_test, y_test, Path(fig_dir) / "rollae_embedding.png", "Roll-AE embeddings (PCA), by class")
        return dict(
            status="ok", description=ROLLAE_DESCRIPTION, figures=["rollae_embedding.png"],
            tables=[dict(title=f"16-class task, {len(x_train)} training / {len(x_test)} test wells, {epochs} epochs "
                               f"(wall {time.perf_counter() - t0:.1f} s)",
                         header=["features", "dimensions", "test accuracy"], rows=rows)],
        )
    except Exception as error:
        return _unavailable(ROLLAE_DESCRIPTION, error)
