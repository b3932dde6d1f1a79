"""Roll-AE well features, top to bottom.

1. Simulate wells with the paper's generator (sporadic spikes, bursts, cyclic bursts, network bursts).
2. Fit ``RollAE`` on arrays ``(n_wells, n_electrodes, n_bins)``; check the exact invariance to time
   shifts and to the 3-2-3 well's mirror flips; classify conditions; compare with neural metrics.
3. SpikeInterface: a 2-well recording (one probe per well in a ProbeGroup) recorded on several days ->
   per-electrode spike trains -> binned wells -> a DataFrame of embeddings indexed by (recording, day, well);
   the ``well_embeddings`` analyzer extension.
4. Ground truth end to end: one synthetic well -> a MEArec recording on an 8-electrode 3-2-3 well (real
   LFPy templates, one neuron per electrode) -> threshold peaks per electrode -> bins -> embedding.
5. Figures: a well raster and the embeddings coloured by condition.

Set ``SI_AMORTIZED_QUICK=1`` for a run of a few tens of seconds; the figure goes to
``$SI_AMORTIZED_TUTORIAL_OUT`` (default: a temporary folder).
"""

import os
import tempfile
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import probeinterface as pi
from spikeinterface.core import create_sorting_analyzer, generate_ground_truth_recording

import si_amortized  # noqa: F401  (registers the "well_embeddings" extension)
from si_amortized.datasets import simulate_well_ground_truth
from si_amortized.plotting.rollae import plot_well_embeddings, plot_well_raster
from si_amortized.rollae import (
    RollAE,
    axion_323_positions,
    classify_wells,
    compute_plate_embeddings,
    layout_symmetries,
    make_synthetic_dataset,
    neural_metric_regression,
    neural_metrics_table,
    plate_neural_metrics,
    stack_wells,
    well_spike_trains,
)
from si_amortized.rollae.metrics import NeuralMetricsConfig

warnings.filterwarnings("ignore")
QUICK = os.environ.get("SI_AMORTIZED_QUICK", "0") == "1"
OUT = Path(os.environ.get("SI_AMORTIZED_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="rollae_tutorial_"))
OUT.mkdir(parents=True, exist_ok=True)

# ---------------------------------------------------------------- 1. synthetic wells
n_per_class, n_bins = (12, 100) if QUICK else (100, 300)
X, labels = make_synthetic_dataset(n_per_class=n_per_class, n_bins=n_bins, seed=0)
print(f"synthetic wells: {X.shape}, 16 classes; mean rate per bin {X.mean():.3f}")

# ---------------------------------------------------------------- 2. RollAE on arrays
positions = axion_323_positions(pitch=200.0)  # um; the layout's 4 mirror flips are found from geometry
print("layout symmetries:\n", layout_symmetries(positions))
model = RollAE(positions, embedding_dim=16 if QUICK else 64, epochs=2 if QUICK else 15, seed=0)
model.fit(X)
emb = model.transform(X)
print(f"embeddings {emb.shape}; training loss {model.history_[0]:.3f} -> {model.history_[-1]:.3f}")

g = layout_symmetries(positions)[3]
moved = np.roll(X[:5, g], 37, axis=-1)  # shift in time and flip the well
print("max |embedding(flipped, shifted) - embedding|:", float(np.abs(model.transform(moved) - emb[:5]).max()))

pooled = model.transform(X, features="pooled")
metrics = neural_metrics_table(X, config=NeuralMetricsConfig.for_bins(), fill_value=0.0)
for name, feats in [("Roll-AE embedding", emb), ("Roll-AE pooled", pooled), ("neural metrics", metrics.to_numpy())]:
    acc = classify_wells(feats, labels.network, Cs=4, cv=3)["accuracy"]
    print(f"network bursts present? accuracy from {name}: {acc:.3f}")
r = neural_metric_regression(pooled, metrics[["mean_firing_rate_hz", "burst_count", "synchrony_index"]])
print("neural metrics predicted from Roll-AE features (r):", r.round(3).to_dict())

# ---------------------------------------------------------------- 3. SpikeInterface plate
duration = 8.0 if QUICK else 60.0
recordings = {}
for day in (7, 14, 21):
    rec, sorting = generate_ground_truth_recording(
        durations=[duration], sampling_frequency=10000.0, num_channels=16, num_units=12, seed=day
    )
    plate = pi.ProbeGroup()
    for w in range(2):  # two wells, 3 mm apart, one probe each -> channel "group" = well
        probe = pi.Probe(ndim=2, si_units="um")
        probe.set_contacts(positions=positions + [3000.0 * w, 0.0], shapes="circle", shape_params={"radius": 15})
        plate.add_probe(probe)
    plate.set_global_device_channel_indices(np.arange(16))
    rec.set_probegroup(plate)
    recordings[f"day{day}"] = create_sorting_analyzer(sorting, rec, sparse=False)  # units on their main channel
metadata = {f"day{d}": {"day": d} for d in (7, 14, 21)}
table, plate_model = compute_plate_embeddings(
    recordings, bin_width_s=0.5, metadata=metadata, fit_kwargs=dict(embedding_dim=8, epochs=2 if QUICK else 10, seed=0),
    return_model=True,
)
print(table.iloc[:, :4])
print(plate_neural_metrics(recordings, metadata=metadata)[["active_electrodes", "weighted_mean_firing_rate_hz", "burst_count"]])
analyzer = recordings["day7"]
ext = analyzer.compute("well_embeddings", model=plate_model, bin_width_s=0.5)
print("analyzer extension 'well_embeddings':\n", ext.get_data().iloc[:, :4])

# ---------------------------------------------------------------- 4. MEArec ground truth end to end
example = int(np.flatnonzero((labels.network == 1) & (labels.cycle == 1))[0])
bin_width = 0.05  # s: the synthetic well's bins become 50 ms of recording each
recording, gt_sorting = simulate_well_ground_truth(X[example], bin_width, noise_level=10.0, seed=0)
print(f"MEArec well: {recording.get_num_channels()} electrodes ({recording.get_probe().model_name}), "
      f"{recording.get_total_duration():.1f} s, neuron cell types {gt_sorting.get_property('cell_type').tolist()}")
(detected,) = well_spike_trains(recording, job_kwargs=dict(n_jobs=1, progress_bar=False))
X_mearec, _ = stack_wells([detected], bin_width)  # electrodes ordered by (y, x): the generator's rows
print(f"bins recovered from the recording: {np.mean((X_mearec[0] > 0) == (X[example] > 0)):.3f}")
z_mearec = model.transform(X_mearec)[0]
others = np.linalg.norm(emb - emb[example], axis=1)
print(f"embedding distance detected vs original well: {np.linalg.norm(z_mearec - emb[example]):.3f} "
      f"(median distance between wells {np.median(others):.3f})")

# ---------------------------------------------------------------- 5. figures
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
plot_well_raster(X[example], ax=axes[0], title="a synthetic well (cycles + network bursts)")
conditions = np.array([f"cycle={c}, network={n}" for c, n in zip(labels.cycle, labels.network)])
plot_well_embeddings(pooled, conditions=conditions, ax=axes[1])
fig.tight_layout()
path = OUT / "rollae_wells.png"
fig.savefig(path, dpi=100)
print(f"figure saved to {path}")
