"""Tutorial: MEArec ground truth with si_amortized.datasets.

Run top to bottom: ``python tutorials/mearec_ground_truth.py``. Set ``SI_AMORTIZED_QUICK=1`` for a
tiny run (CI does). Figures go to ``$SI_AMORTIZED_TUTORIAL_OUT`` (default: a temporary folder).

1. Load the packaged template library (real NEURON/LFPy templates of MEArec's 13 BBP cell models).
2. Simulate a recording with MEArec's Poisson spike trains, then one with your own spike trains.
3. Load it as SpikeInterface objects with the ground truth as sorting properties.
4. Compare SpikeInterface's unit locations with the true somas.
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import spikeinterface.core as si
import spikeinterface.postprocessing  # noqa: F401

import si_amortized  # noqa: F401  (registers the plugin's extensions)
from si_amortized.datasets import load_mearec, load_template_library, simulate_recording

QUICK = os.environ.get("SI_AMORTIZED_QUICK") == "1"
OUT = Path(os.environ.get("SI_AMORTIZED_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="si_amortized_tutorial_"))
OUT.mkdir(parents=True, exist_ok=True)

# 1. The packaged library: 12 templates per BBP cell model, for SqMEA-10-15 and Neuropixels-64
library = load_template_library("SqMEA-10-15")
print(f"{len(library.templates)} templates, {library.templates.shape[1]} channels, "
      f"{library.templates.shape[2]} samples at {1 / library.params['dt']:.0f} kHz")
print("m-types:", sorted(set(library.mtypes)))

# 2a. A recording with MEArec's own spike trains (Poisson; E cells ~5 Hz, I cells ~15 Hz)
duration = 3.0 if QUICK else 30.0
path = simulate_recording("SqMEA-10-15", n_exc=6 if QUICK else 20, n_inh=2 if QUICK else 8,
                          duration=duration, noise_level=10.0, seed=0)
recording, sorting = load_mearec(path)
print(recording)
print("ground-truth properties:", sorted(sorting.get_property_keys()))

# 2b. Your own spike trains: a bursting pyramidal cell and a fast regular-spiking basket cell
rng = np.random.default_rng(1)
burst_onsets = np.arange(0.2, duration - 0.2, 0.5)
bursty = np.concatenate([t + np.arange(4) * 0.006 for t in burst_onsets])
regular = np.arange(0.05, duration - 0.05, 1 / 40) + rng.normal(0, 0.002, size=int((duration - 0.1) * 40) + 1)[
    : len(np.arange(0.05, duration - 0.05, 1 / 40))]
own_path = simulate_recording("SqMEA-10-15", spike_trains=[bursty, np.sort(regular)],
                              cell_models=["L5_TTPC1", "L5_NBC"], duration=duration, seed=2)
_, own_sorting = load_mearec(own_path)
for unit_id, mtype, index in zip(own_sorting.unit_ids, own_sorting.get_property("mtype"),
                                 own_sorting.get_property("input_index")):
    print(f"unit {unit_id}: {mtype}, spike train #{index}, {len(own_sorting.get_unit_spike_train(unit_id))} spikes")

# 3-4. Unit locations against the true somas
analyzer = si.create_sorting_analyzer(sorting, recording, sparse=True)
analyzer.compute(["random_spikes", "templates"])
analyzer.compute("unit_locations", method="monopolar_triangulation")
estimated = analyzer.get_extension("unit_locations").get_data()
truth = sorting.get_property("gt_unit_locations")
errors = np.linalg.norm(estimated[:, :2] - truth[:, :2], axis=1)
print(f"monopolar_triangulation: median 2D error {np.median(errors):.1f} um over {len(errors)} units")

fig, ax = plt.subplots(figsize=(5, 5))
positions = recording.get_channel_locations()
ax.scatter(positions[:, 0], positions[:, 1], s=6, c="0.7", marker="s", label="contacts")
ax.scatter(truth[:, 0], truth[:, 1], c="k", marker="*", s=80, label="true soma")
ax.scatter(estimated[:, 0], estimated[:, 1], c="tab:red", s=20, label="monopolar_triangulation")
for t, e in zip(truth, estimated):
    ax.plot([t[0], e[0]], [t[1], e[1]], c="tab:red", lw=0.5)
ax.set_aspect("equal")
ax.set_xlabel("x (um)")
ax.set_ylabel("y (um)")
ax.legend(loc="upper right", fontsize=7)
fig.savefig(OUT / "mearec_ground_truth.png", dpi=100)
print("figure:", OUT / "mearec_ground_truth.png")
