"""VAE spike localization (Hurwitz et al., NeurIPS 2019) with SpikeInterface, top to bottom.

1. simulate a MEArec ground-truth recording on a 10 x 10 square MEA (15 um pitch);
2. ``analyzer.compute("vae_locations")``: train the amortized localizer on the spikes, then localize all;
3. ``model="pretrained"``: the localizer shipped for this layout (simulation-trained, no training step),
   with overlapping spikes' templates subtracted; compare both with SpikeInterface's ``center_of_mass``
   against the ground-truth somas, and check the posterior's coverage;
4. reuse the trained model, and use it before sorting through ``localize_peaks(method="vae")``;
5. plot the locations over the probe.

Set ``SI_AMORTIZED_QUICK=1`` to run on tiny data in a few tens of seconds, and
``SI_AMORTIZED_TUTORIAL_OUT=folder`` to choose where the model and figure go (default: a temporary folder).
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import si_amortized  # noqa: E402,F401  (importing registers "vae_locations" and the "vae" method)
from si_amortized.datasets import simulate_ground_truth  # noqa: E402
from si_amortized.localization import posterior_coverage, save_localizer  # noqa: E402
from si_amortized.plotting.localization import plot_spike_locations  # noqa: E402
from spikeinterface.core import create_sorting_analyzer  # noqa: E402
from spikeinterface.sortingcomponents.peak_detection import detect_peaks  # noqa: E402
from spikeinterface.sortingcomponents.peak_localization import localize_peaks  # noqa: E402

QUICK = os.environ.get("SI_AMORTIZED_QUICK", "0") == "1"
out_dir = Path(os.environ.get("SI_AMORTIZED_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="vae_localization_"))
out_dir.mkdir(parents=True, exist_ok=True)
figure_path = out_dir / "vae_locations.png"

# 1. ground truth -----------------------------------------------------------------------------
recording, sorting = simulate_ground_truth(
    "SqMEA-10-15", n_exc=8 if QUICK else 24, n_inh=2 if QUICK else 6, duration=5.0 if QUICK else 30.0,
    noise_level=10.0, seed=0,
)
print(recording)
print(f"{sorting.get_num_units()} units, {sorting.to_spike_vector().size} spikes")

# 2. VAE locations: training on (up to max_spikes) spikes, then amortized inference on all -------
analyzer = create_sorting_analyzer(sorting, recording, sparse=False, format="memory")
analyzer.compute(["random_spikes", "templates"])
job_kwargs = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)
ext = analyzer.compute("vae_locations", epochs=3 if QUICK else 20, batch_size=128, seed=0, **job_kwargs)
vae = ext.get_data()
print("fields:", vae.dtype.names)

# 3. the shipped localizer, and accuracy against the ground-truth somas ------------------------
trained_model = ext.get_model()
pretrained = analyzer.compute("vae_locations", model="pretrained", **job_kwargs)
corpus = pretrained.get_model().metadata["training_corpus"]
print(f"pretrained localizer: trained on {corpus['num_templates']} simulated templates of {corpus['probe']}; "
      f"overlapping spikes subtracted: {pretrained.params['subtract_overlaps']}")
com = analyzer.compute("spike_locations", method="center_of_mass", **job_kwargs).get_data()
gt = sorting.get_property("gt_unit_locations")[sorting.to_spike_vector()["unit_index"]]
for name, loc in (("vae (trained)", vae), ("vae pretrained", pretrained.get_data()), ("center_of_mass", com)):
    err = np.hypot(loc["x"] - gt[:, 0], loc["y"] - gt[:, 1])
    print(f"{name:>15}: 2D error to soma {np.nanmean(err):5.1f} +- {np.nanstd(err):4.1f} um (median {np.nanmedian(err):4.1f})")
loc = pretrained.get_data()
coverage = posterior_coverage(np.column_stack([loc["x"], loc["y"]]), np.column_stack([loc["x_std"], loc["y_std"]]),
                              gt[:, :2])
print(f"share of somas within 1 / 2 posterior sd (x): {coverage[0, 0]:.2f} / {coverage[1, 0]:.2f}")

# 4. reuse the model: save it, and localize detected peaks before any sorting ------------------
model = trained_model
path = save_localizer(model, out_dir / "vae_model.pt")
print("model saved to", path)
peaks = detect_peaks(recording, method="locally_exclusive", method_kwargs=dict(detect_threshold=6), job_kwargs=job_kwargs)
peak_locations = localize_peaks(recording, peaks, method="vae", method_kwargs={"model": str(path)}, job_kwargs=job_kwargs)
print(f"{peaks.size} detected peaks localized; median posterior sd x: {np.nanmedian(peak_locations['x_std']):.1f} um")
# the same model through SpikeInterface's own extension, for widgets and drift tools
analyzer.compute("spike_locations", method="vae", method_kwargs={"model": model}, **job_kwargs)

# 5. figure ------------------------------------------------------------------------------------
fig, axes = plt.subplots(1, 2, figsize=(12, 6))
plot_spike_locations(analyzer, "vae_locations", ax=axes[0], max_spikes_per_unit=200)
axes[0].set_title("vae_locations (model='pretrained')")
plot_spike_locations(analyzer, "spike_locations", ax=axes[1], max_spikes_per_unit=200)
axes[1].set_title("spike_locations(method='vae') (same model)")
fig.tight_layout()
fig.savefig(figure_path, dpi=80)
print("figure saved to", figure_path)
