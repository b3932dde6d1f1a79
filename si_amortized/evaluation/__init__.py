"""Ground-truth evaluation of the plugin's methods with SpikeInterface's comparison tools, and the benchmark report.

- :mod:`.scenarios`: named MEArec scenarios (SqMEA-10-15 / Neuropixels-64, 10/20/30 uV, 50 cells), cached.
- :mod:`.localization`: per-spike 2D localization error of ``localize_peaks`` methods (VAE paper, Table 1).
- :mod:`.gmm_sorting`: GMM sorting from locations scored with ``compare_sorter_to_ground_truth`` (Figure 2).
- :mod:`.sorter_comparison`: the location sorter against SpikeInterface's sorters in a ``SorterStudy``.
- :mod:`.generalization`: a VAE localizer trained on one recording applied to another.
- :mod:`.wings`: NEMO and Roll-AE report sections.
- :mod:`.distributed`: batches of recordings on Dask distributed.
- :func:`run_benchmark`: all of it into a report folder (``si-amortized benchmark``).
"""

from .benchmark import run_benchmark
from .config import SECTIONS, BenchmarkConfig
from .distributed import dask_client, map_dask, map_local
from .evaluate import evaluate_scenario
from .generalization import run_generalization
from .gmm_sorting import accuracy_vs_components, gmm_labels, labels_to_sorting, location_features, score_labels
from .localization import (
    LOCALIZATION_METHODS,
    LocalizationResult,
    ground_truth_peaks,
    localize_ground_truth,
    location_errors,
    restrict_ground_truth,
    subsample_spikes,
    summarize_errors,
    train_vae_localizer,
)
from .report import write_report
from .scenarios import GROUPS, SCENARIOS, Scenario, get_scenarios, sized
from .sorter_comparison import (
    PEER_SORTERS,
    accuracy_by_snr,
    installed_peers,
    run_sorter_study,
    sorter_cases,
    summarize_study,
)

__all__ = [
    "BenchmarkConfig",
    "GROUPS",
    "LOCALIZATION_METHODS",
    "LocalizationResult",
    "SCENARIOS",
    "SECTIONS",
    "Scenario",
    "accuracy_vs_components",
    "dask_client",
    "evaluate_scenario",
    "get_scenarios",
    "gmm_labels",
    "ground_truth_peaks",
    "labels_to_sorting",
    "localize_ground_truth",
    "location_errors",
    "location_features",
    "map_dask",
    "map_local",
    "run_benchmark",
    "run_generalization",
    "run_sorter_study",
    "score_labels",
    "restrict_ground_truth",
    "sized",
    "subsample_spikes",
    "sorter_cases",
    "accuracy_by_snr",
    "installed_peers",
    "PEER_SORTERS",
    "summarize_errors",
    "summarize_study",
    "train_vae_localizer",
    "write_report",
]
