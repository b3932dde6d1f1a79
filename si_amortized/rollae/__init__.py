"""Roll-AE well features: exactly shift- and layout-invariant embeddings of multiwell MEA wells.

Importing this package registers the ``well_embeddings`` SortingAnalyzer extension.

Naming rule of every wing: ``fit_*`` / ``.fit`` = user-level entry point; ``train_*`` = inner loop on arrays/tensors.
"""

from .config import ExperimentalOptions, RollAEConfig
from .downstream import (
    classify_wells,
    leave_one_well_out_classification,
    neural_metric_regression,
    treatment_centroid_distances,
    treatment_linkage,
)
from .estimator import RollAE
from .extension import ComputeWellEmbeddings, compute_well_embeddings
from .loss import min_shift_mse, rollae_loss, shift_squared_errors
from .metrics import (
    METRIC_NAMES,
    BurstParams,
    NeuralMetricsConfig,
    binned_to_spike_times,
    max_interval_bursts,
    neural_metrics,
    neural_metrics_table,
    spike_time_tiling,
)
from .model import RollAENet
from .plate import compute_plate_embeddings, embed_wells, plate_neural_metrics, plate_well_tensors
from .symmetry import axion_323_positions, grid_positions, layout_symmetries, line_positions
from .synthetic import PAPER_LEVELS, SyntheticParams, make_synthetic_dataset, simulate_wells
from .wells import (
    WellSpikeTrains,
    bin_spike_times,
    pool_to_grid,
    read_maxwell_wells,
    stack_wells,
    well_channel_groups,
    well_spike_trains,
)

__all__ = [
    "RollAE",
    "RollAEConfig",
    "ExperimentalOptions",
    "RollAENet",
    "rollae_loss",
    "min_shift_mse",
    "shift_squared_errors",
    "layout_symmetries",
    "axion_323_positions",
    "grid_positions",
    "line_positions",
    "SyntheticParams",
    "simulate_wells",
    "make_synthetic_dataset",
    "PAPER_LEVELS",
    "BurstParams",
    "NeuralMetricsConfig",
    "METRIC_NAMES",
    "max_interval_bursts",
    "spike_time_tiling",
    "neural_metrics",
    "neural_metrics_table",
    "binned_to_spike_times",
    "WellSpikeTrains",
    "well_channel_groups",
    "well_spike_trains",
    "bin_spike_times",
    "stack_wells",
    "pool_to_grid",
    "read_maxwell_wells",
    "embed_wells",
    "plate_well_tensors",
    "compute_plate_embeddings",
    "plate_neural_metrics",
    "ComputeWellEmbeddings",
    "compute_well_embeddings",
    "classify_wells",
    "leave_one_well_out_classification",
    "treatment_centroid_distances",
    "treatment_linkage",
    "neural_metric_regression",
]
