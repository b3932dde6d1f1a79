"""PNG figures of the benchmark report (matplotlib, Agg backend)."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def plot_locations_over_probe(result: dict, path, max_spikes: int = 4000, seed: int = 0) -> Path:
    """One panel per method: estimated spike locations coloured by ground-truth unit, somas as crosses.

    Parameters
    ----------
    result : dict
        A result of :func:`si_amortized.evaluation.evaluate.evaluate_scenario` with ``localization``.
    path : str | Path
    max_spikes : int, default: 4000
        Random spikes drawn per panel.
    """
    plt = _plt()
    methods = list(result["localization"])
    probe = result["probe"]
    somas = result["gt_unit_locations"]
    units = result["unit_indices"]
    rng = np.random.default_rng(seed)
    shown = rng.choice(units.size, size=min(max_spikes, units.size), replace=False)
    colors = plt.get_cmap("tab20")(units[shown] % 20)
    fig, axes = plt.subplots(1, len(methods), figsize=(4.2 * len(methods), 4.4), squeeze=False)
    pad = 40.0
    xlim = (min(probe[:, 0].min(), somas[:, 0].min()) - pad, max(probe[:, 0].max(), somas[:, 0].max()) + pad)
    ylim = (min(probe[:, 1].min(), somas[:, 1].min()) - pad, max(probe[:, 1].max(), somas[:, 1].max()) + pad)
    for ax, method in zip(axes[0], methods):
        loc = result["localization"][method]
        ax.scatter(probe[:, 0], probe[:, 1], marker="s", s=12, color="0.85", zorder=0)
        ax.scatter(loc["x"][shown], loc["y"][shown], s=2, c=colors, alpha=0.6, zorder=1)
        ax.scatter(somas[:, 0], somas[:, 1], marker="x", s=30, color="k", zorder=2)
        ax.set_xlim(xlim)
        ax.set_ylim(ylim)
        ax.set_aspect("equal")
        ax.set_title(f"{method}\nmean error {loc['mean']:.1f} um")
        ax.set_xlabel("x (um)")
    axes[0, 0].set_ylabel("y (um)")
    fig.suptitle(f"{result['scenario']['name']}: spike locations over the probe (x: ground-truth somas)")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_error_histograms(result: dict, path, max_error_um: float = 80.0) -> Path:
    """Histograms of the per-spike 2D localization errors, one line per method."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6, 4))
    bins = np.linspace(0, max_error_um, 41)
    for method, loc in result["localization"].items():
        errors = np.asarray(loc["errors"], float)
        errors = np.clip(errors[np.isfinite(errors)], 0, max_error_um)
        ax.hist(errors, bins=bins, histtype="step", lw=1.5, density=True, label=f"{method} (median {loc['median']:.1f})")
    ax.set_xlabel(f"2D error to soma (um, clipped at {max_error_um:.0f})")
    ax.set_ylabel("density")
    ax.set_title(f"{result['scenario']['name']}: localization error")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_accuracy_vs_components(result: dict, path) -> Path:
    """Mean accuracy of GMM sorting vs number of components, per method and feature set."""
    plt = _plt()
    feature_sets = list(result["gmm"])
    fig, axes = plt.subplots(1, len(feature_sets), figsize=(5.5 * len(feature_sets), 4), squeeze=False, sharey=True)
    for ax, feature_set in zip(axes[0], feature_sets):
        for method, rows in result["gmm"][feature_set].items():
            ax.plot([r["n_components"] for r in rows], [r["accuracy"] for r in rows], marker="o", label=method)
        ax.axvline(result["num_units"], color="0.6", ls=":", lw=1)
        ax.set_xlabel("GMM components")
        ax.set_title(f"features: {feature_set}")
    axes[0, 0].set_ylabel("mean accuracy over ground-truth units")
    axes[0, -1].legend(fontsize=8)
    fig.suptitle(f"{result['scenario']['name']}: sorting from locations (dotted: number of cells)")
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_sorter_comparison(result: dict, path) -> Path:
    """Well-detected units and mean accuracy per sorter case, and (when the result has
    ``sorters_by_unit``) each ground-truth unit's accuracy against its SNR per case."""
    plt = _plt()
    table = result["sorters"]
    by_unit = result.get("sorters_by_unit")
    fig, axes = plt.subplots(1, 3 if by_unit is not None else 2, figsize=(15 if by_unit is not None else 10, 3.8))
    labels = list(table["label"])
    y = np.arange(len(labels))
    axes[0].barh(y, table["num_well_detected"], color="C0")
    axes[0].set_yticks(y, labels)
    axes[0].set_xlabel(f"well-detected units (accuracy >= 0.8) of {int(table['num_gt'].iloc[0])}")
    axes[1].barh(y, table["accuracy"], color="C1")
    axes[1].set_yticks(y, [])
    axes[1].set_xlabel("mean accuracy over ground-truth units")
    if by_unit is not None:
        plot_accuracy_vs_snr(by_unit, axes[2])
    fig.suptitle(f"{result['scenario']['name']}: SorterStudy")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)


def plot_accuracy_vs_snr(by_unit, ax) -> None:
    """Accuracy of each ground-truth unit against its SNR, one colour per case, with a running median.

    Parameters
    ----------
    by_unit : pandas.DataFrame
        Column ``snr`` and one accuracy column per case (:func:`~.sorter_comparison.accuracy_by_snr`).
    ax : matplotlib Axes
    """
    snr = by_unit["snr"].to_numpy(dtype=float)
    order = np.argsort(snr)
    width = max(3, len(snr) // 6)
    for i, label in enumerate(c for c in by_unit.columns if c != "snr"):
        accuracy = by_unit[label].to_numpy(dtype=float)
        ax.scatter(snr, accuracy, s=10, alpha=0.5, color=f"C{i}")
        sorted_acc = accuracy[order]
        median = [np.nanmedian(sorted_acc[max(0, k - width // 2): k + width // 2 + 1]) for k in range(len(snr))]
        ax.plot(snr[order], median, color=f"C{i}", label=label)
    ax.set_xlabel("ground-truth SNR")
    ax.set_ylabel("accuracy")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, loc="lower right")


def plot_embedding(embedding: np.ndarray, labels, path, title: str) -> Path:
    """2D map of an embedding (PCA of the rows), coloured by label."""
    from sklearn.decomposition import PCA

    plt = _plt()
    embedding = np.asarray(embedding, float)
    xy = PCA(n_components=2).fit_transform(embedding) if embedding.shape[1] > 2 else embedding
    labels = np.asarray(labels)
    fig, ax = plt.subplots(figsize=(5, 4.2))
    for i, label in enumerate(np.unique(labels)):
        sel = labels == label
        ax.scatter(xy[sel, 0], xy[sel, 1], s=14, color=plt.get_cmap("tab10")(i % 10), label=str(label))
    ax.set_xlabel("PC 1")
    ax.set_ylabel("PC 2")
    ax.set_title(title)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return Path(path)
