"""Ground truth from MEArec: template libraries, simulated recordings (probes and 8-electrode wells), loading with GT properties,
cell-type firing models, cell-type analyzers and synthetic unit corpora (NEMO), lazily generated long recordings.

``import si_amortized.datasets`` works without NEURON; only :func:`simulate_templates` needs it.
"""

from ._paths import cache_folder
from .celltypes import library_fold, simulate_celltype_analyzer
from .filtering import band_pass_templates
from .firing import (
    FIRING_PROFILES,
    MTYPES,
    FiringProfile,
    draw_mtypes,
    mearec_default_spike_trains,
    simulate_spike_trains,
)
from .long_recordings import lazy_ground_truth_recording
from .unit_corpus import UnitCorpusConfig, synthesize_unit_corpus
from .probes import neuropixels1_like_probe, neuropixels2_like_probe
from .mearec import load_mearec, read_ground_truth_annotations, simulate_ground_truth, simulate_recording
from .mearec_wells import (
    WELL_PROBE_NAME,
    WellTemplates,
    select_well_templates,
    simulate_well_ground_truth,
    simulate_well_recording,
    turn_grid_templates,
    well_323_positions,
    well_spike_times,
)
from .templates import (
    LIBRARY_PROBES,
    TemplateLibrary,
    cell_type_from_mtype,
    check_neuron_available,
    load_template_library,
    mtype_from_cell_model,
    simulate_templates,
)

__all__ = [
    "UnitCorpusConfig",
    "band_pass_templates",
    "mearec_default_spike_trains",
    "neuropixels1_like_probe",
    "neuropixels2_like_probe",
    "FIRING_PROFILES",
    "FiringProfile",
    "LIBRARY_PROBES",
    "MTYPES",
    "TemplateLibrary",
    "WELL_PROBE_NAME",
    "WellTemplates",
    "cache_folder",
    "cell_type_from_mtype",
    "check_neuron_available",
    "draw_mtypes",
    "lazy_ground_truth_recording",
    "library_fold",
    "load_mearec",
    "load_template_library",
    "mtype_from_cell_model",
    "read_ground_truth_annotations",
    "select_well_templates",
    "simulate_celltype_analyzer",
    "simulate_ground_truth",
    "simulate_recording",
    "simulate_spike_trains",
    "simulate_templates",
    "synthesize_unit_corpus",
    "simulate_well_ground_truth",
    "simulate_well_recording",
    "turn_grid_templates",
    "well_323_positions",
    "well_spike_times",
]
