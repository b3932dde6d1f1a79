"""NEMO unit embeddings in SpikeInterface: compute, train your own, probe cell types, plot.

Run top to bottom: ``python tutorials/nemo_embeddings.py``. With ``SI_AMORTIZED_QUICK=1`` it uses tiny data
(SpikeInterface's generator, a few training epochs) and finishes in a few tens of seconds; otherwise it
simulates MEArec recordings with cell-type-specific firing (a few minutes). The figure goes to
``$SI_AMORTIZED_TUTORIAL_OUT`` (default: a temporary folder).
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import spikeinterface.full as si

import si_amortized  # noqa: F401  (importing registers the "nemo_embeddings" extension)
from si_amortized.nemo import TrainConfig, fit_nemo
from si_amortized.nemo.classifiers import cross_validate_probe
from si_amortized.plotting.nemo import plot_nemo_embedding

QUICK = os.environ.get("SI_AMORTIZED_QUICK", "0") == "1"
FIGURES = Path(os.environ.get("SI_AMORTIZED_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="nemo_tutorial_"))
FIGURES.mkdir(parents=True, exist_ok=True)

# 1. Recordings with ground-truth cell types ----------------------------------------------------------
if QUICK:
    # two small generated recordings; "cell_type" is made up from the firing rate (generator units have none)
    analyzers = []
    for seed in (0, 1):
        rec, sorting = si.generate_ground_truth_recording(durations=[30.0], num_units=12, num_channels=16, seed=seed)
        rates = sorting.count_num_spikes_per_unit(outputs="array") / 30.0
        sorting.set_property("cell_type", np.where(rates > np.median(rates), "fast", "slow"))
        analyzer = si.create_sorting_analyzer(sorting, rec, sparse=False)
        analyzer.compute(["random_spikes", "templates"], progress_bar=False)
        analyzers.append(analyzer)
    label = "cell_type"
else:
    # MEArec recordings: 13 BBP m-types, cell-type-specific firing (bursty pyramids, fast interneurons, ...),
    # 20 uV noise, templates from 300 spikes; cells from the library's held-out fold
    from si_amortized.datasets import simulate_celltype_analyzer

    workdir = Path(tempfile.mkdtemp(prefix="nemo_tutorial_data_"))
    analyzers = [
        simulate_celltype_analyzer(seed, output=workdir / f"rec{seed}.h5", duration=60.0, units_per_mtype=2,
                                   noise_level=20.0, template_fold="test")[0]
        for seed in (7, 8)
    ]
    label = "cell_type"
analyzer = analyzers[0]
print(analyzer)

# 2. Embeddings with the default (pretrained) model ----------------------------------------------------
ext = analyzer.compute("nemo_embeddings")  # depends on "templates" (and the sorting's spike trains)
features = ext.get_data()  # (num_units, 1012): the 500-d representation, then the waveform's 512-d projection
representations = ext.get_data("representations")  # (num_units, 500): ACG encoder 200 + waveform encoder 300
print("features:", features.shape, " representations:", representations.shape)
# the paper's features alone: analyzer.compute("nemo_embeddings", embedding="representation")
print("ACG images:", ext.get_data("acg_images").shape, " waveforms:", ext.get_data("waveforms").shape)

# 3. Train your own model on one or several analyzers -------------------------------------------------
epochs = 5 if QUICK else 150
model, history = fit_nemo(analyzers, train_config=TrainConfig(epochs=epochs, batch_size=256, eval_every=5),
                          progress_bar=not QUICK)
print(f"own model: train loss {history['train_loss'][0]:.3f} -> {history['train_loss'][-1]:.3f}, "
      f"best epoch {history['best_epoch']}")
for a in analyzers:
    a.compute("nemo_embeddings", model=model)  # the model is stored in each extension folder

# 4. A linear probe on the frozen embeddings (cross-validated over units) ------------------------------
features = np.concatenate([a.get_extension("nemo_embeddings").get_data() for a in analyzers])
labels = np.concatenate([a.sorting.get_property(label) for a in analyzers])
scores = cross_validate_probe(features, labels, "linear", n_splits=3)
print(f"linear probe on '{label}': balanced accuracy {scores['balanced_accuracy']:.2f}, "
      f"macro F1 {scores['macro_f1']:.2f} ({scores['folds']} folds; chance {1 / len(np.unique(labels)):.2f})")

# 5. The 2D embedding coloured by a unit property ------------------------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(10, 4.5))
plot_nemo_embedding(analyzers[0], color_by=label, ax=axes[0], title="own model")
plot_nemo_embedding(features, color_by=labels, ax=axes[1], method="tsne", title="all recordings (t-SNE)")
fig.tight_layout()
out = FIGURES / "nemo_embeddings.png"
fig.savefig(out, dpi=100)
print("figure:", out)
