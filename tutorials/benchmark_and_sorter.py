"""Ground-truth evaluation and the location sorter, top to bottom.

What you will do:

1. simulate (or reuse from the cache) a MEArec ground-truth recording of a named benchmark scenario;
2. spike sort it with ``run_sorter("location_sorter", ...)``: peaks -> VAE locations (or SpikeInterface's
   center of mass) + whitened waveform PCs -> mean shift -> clusters holding two cells split -> template
   matching, and score it with ``compare_sorter_to_ground_truth``; read what the split step decided;
3. measure the localization error of each method on the ground-truth spikes;
4. write the full benchmark report folder (``si-amortized benchmark`` does the same from the shell).

Run with ``SI_AMORTIZED_QUICK=1`` for a tiny version (tens of seconds). Figures go to
``$SI_AMORTIZED_TUTORIAL_OUT`` (default: a temporary folder).
"""

import os
import tempfile
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

import si_amortized  # noqa: E402,F401  registers the "vae" localization method
import si_amortized.sorters  # noqa: E402,F401  registers "location_sorter" with spikeinterface.sorters
from si_amortized.evaluation import BenchmarkConfig, get_scenarios, localize_ground_truth, run_benchmark  # noqa: E402

QUICK = os.environ.get("SI_AMORTIZED_QUICK") == "1"
OUT = Path(os.environ.get("SI_AMORTIZED_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="si_amortized_tutorial_"))
OUT.mkdir(parents=True, exist_ok=True)
SIZE = "tiny" if QUICK else "quick"
VAE_EPOCHS = 2 if QUICK else 20
JOB = dict(n_jobs=1, chunk_duration="1s", progress_bar=False)

# %% 1. A named scenario: square MEA, 10 uV noise (tiny: 10 cells for 5 s; quick: 50 cells for 20 s)
scenario = get_scenarios("sqmea-10uv", size=SIZE)[0]
print(scenario)
recording, gt_sorting = scenario.load()
print(recording)
print(f"{gt_sorting.get_num_units()} ground-truth units, somas in gt_sorting.get_property('gt_unit_locations')")

# %% 2. The location sorter, by name, as any SpikeInterface sorter
from spikeinterface.comparison import compare_sorter_to_ground_truth  # noqa: E402
from spikeinterface.sorters import get_default_sorter_params, run_sorter  # noqa: E402

print("location_sorter parameters:", sorted(get_default_sorter_params("location_sorter")))
scores = {}
for method in ("vae", "center_of_mass"):
    sorting = run_sorter(
        "location_sorter", recording, folder=OUT / f"location_sorter_{method}", remove_existing_folder=True,
        localization_method=method, localization_kwargs={"epochs": VAE_EPOCHS} if method == "vae" else {},
        job_kwargs=JOB,
    )
    comparison = compare_sorter_to_ground_truth(gt_sorting, sorting, exhaustive_gt=True)
    perf = comparison.get_performance()
    scores[method] = (comparison.count_well_detected_units(0.8), float(perf["accuracy"].mean()))
    print(f"location_sorter[{method}]: {sorting.get_num_units()} units, {scores[method][0]} well detected, "
          f"mean accuracy {scores[method][1]:.3f}")

# Clusters that hold two cells are split (split=True, the default) only when the refractory period says so:
# the halves of one cell never fire within 2 ms of each other, two independent cells do by chance. The
# evidence for every judged split is saved with the sorting.
from si_amortized.sorters import read_sorter_features  # noqa: E402

decisions = read_sorter_features(OUT / "location_sorter_vae")["split_decisions"]
for d in decisions:
    verdict = "split: two cells" if d["split"] else "kept whole"
    print(f"cluster {d['cluster']}: halves of {d['sizes'][0]} and {d['sizes'][1]} peaks coincide {d['observed']} "
          f"times within 0.5-2 ms where two independent cells would {d['expected']:.1f} times -> {verdict}")
if not decisions:
    print("no cluster was large enough for the refractory period to judge a split (short recording)")
# The other way round, after matching: two units with the same template (cosine >= 0.97) whose spikes respect
# one refractory period are one cell that clustering cut in two, and are merged.
for d in read_sorter_features(OUT / "location_sorter_vae")["duplicate_decisions"]:
    verdict = "merged: one cell" if d["merged"] else "kept apart"
    print(f"units {d['units'][0]} and {d['units'][1]}: template cosine {d['cosine']:.3f}, {d['observed']} "
          f"coincidences where two independent cells would give {d['expected']:.1f} -> {verdict}")
# A unit to which matching gave less than half its cluster's peaks had a template the others explain better;
# what it kept is usually one cell's spikes found on another sample: the unit at least twice its size whose
# template (shifted by up to 0.3 ms) is most alike absorbs it, when their trains share a refractory period.
for d in read_sorter_features(OUT / "location_sorter_vae")["absorb_decisions"]:
    if d["units"][1] is None:
        print(f"unit {d['units'][0]} kept {d['fraction']:.0%} of its cluster; no unit twice its size -> kept")
        continue
    verdict = f"absorbed by unit {d['units'][1]}" if d["absorbed"] else "kept"
    print(f"unit {d['units'][0]} kept {d['fraction']:.0%} of its cluster; most alike unit {d['units'][1]} "
          f"(cosine {d['cosine']:.2f} at a lag of {d['lag']} samples) -> {verdict}")
# And once more after matching (split_matched=True, the default): matching gathers every spike of a cell into
# one unit, also a cell whose peaks clustering spread over other clusters, and the refractory test can then
# judge a split of that unit. A split-off half gets a new unit id, after every cluster label.
for d in read_sorter_features(OUT / "location_sorter_vae")["matched_split_decisions"]:
    verdict = "split: two cells" if d["split"] else "kept whole"
    print(f"unit {d['unit']}: halves of {d['sizes'][0]} and {d['sizes'][1]} spikes, {d['observed']} coincidences "
          f"where {d['expected']:.1f} expected -> {verdict}")

# %% 3. Localization error of the ground-truth spikes, per method (the VAE paper's Table 1)
results = localize_ground_truth(
    recording, gt_sorting, ["vae", "center_of_mass", "grid_convolution"],
    method_kwargs={"vae": {"epochs": VAE_EPOCHS}}, job_kwargs=JOB,
)
somas = gt_sorting.get_property("gt_unit_locations")
units = gt_sorting.to_spike_vector()["unit_index"]
channels = recording.get_channel_locations()
fig, axes = plt.subplots(1, len(results), figsize=(4.2 * len(results), 4.2))
for ax, (method, result) in zip(axes, results.items()):
    s = result.summary
    print(f"{method:>18}: mean {s['mean']:.1f} +- {s['sd']:.1f} um, median {s['median']:.1f} um")
    ax.scatter(channels[:, 0], channels[:, 1], marker="s", s=10, color="0.85")
    ax.scatter(result.locations["x"], result.locations["y"], s=2, c=units % 10, cmap="tab10", alpha=0.6)
    ax.scatter(somas[:, 0], somas[:, 1], marker="x", color="k")
    ax.set_title(f"{method}: median {s['median']:.1f} um")
    ax.set_aspect("equal")
fig.tight_layout()
fig.savefig(OUT / "benchmark_and_sorter_locations.png", dpi=100)
print("figure:", OUT / "benchmark_and_sorter_locations.png")

# %% 4. The whole benchmark as a report folder (report.md, figures/, results.json)
config = BenchmarkConfig(
    size=SIZE,
    sections=("localization", "gmm") if QUICK else ("localization", "gmm", "sorters", "generalization"),
    localization_methods=("vae", "center_of_mass"),
    vae_epochs=VAE_EPOCHS,
)
report = run_benchmark([scenario], OUT / "report", config=config, progress=not QUICK)
print("report:", report)
print("\n".join(report.read_text().splitlines()[:25]))
assert np.isfinite(results["vae"].summary["mean"])
