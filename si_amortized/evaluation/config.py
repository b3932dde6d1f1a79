"""Configuration of a benchmark run (frozen, stored verbatim in the report)."""

from __future__ import annotations

from dataclasses import dataclass, field

from .localization import LOCALIZATION_METHODS

SECTIONS = ("localization", "gmm", "sorters", "generalization", "motion", "nemo", "rollae", "scale")


@dataclass(frozen=True, kw_only=True)
class BenchmarkConfig:
    """What one ``si-amortized benchmark`` run computes.

    Parameters
    ----------
    size : "tiny" | "quick" | "full", default: "quick"
        Scenario size (see :func:`si_amortized.evaluation.scenarios.sized`) and effort: ``tiny`` and
        ``quick`` train the VAE for fewer epochs and try fewer GMM sizes.
    localization_methods : tuple of str, default: all four
        Methods of the localization table and of the GMM sorting.
    sorter_localization_methods : tuple of str | None, default: None
        One location-sorter case per method in the sorter comparison. None: ``("vae", "center_of_mass",
        "monopolar_triangulation")`` for full runs, without ``monopolar_triangulation`` for tiny and quick
        runs (its per-spike optimisation takes ~10-50 ms per peak on these machines).
    internal_sorter : str | None, default: "tridesclous2"
        SpikeInterface sorter compared against (None: left out).
    vae_epochs : int | None, default: None
        Training epochs of the VAE localizer; None: 5 (tiny), 20 (quick), the localizer's default (full).
    max_spikes_per_unit : int | None, default: -1
        Localization and GMM sections score at most this many random ground-truth spikes per unit
        (SpikeInterface's ``monopolar_triangulation`` takes ~10 ms per spike on one core). -1: by size
        (all for tiny, 30 for quick, 300 for full); None: all spikes.
    n_components : tuple of int | None, default: None
        GMM sizes; None: around the number of cells (:func:`default_components_grid`).
    n_pcs : int, default: 2
        Whitened waveform PCs added to the locations in the second GMM feature set.
    pc_scale : float, default: 5.0
        Multiplier of the unit-variance PCs (um).
    sections : tuple of str, default: all
        Any of ``localization``, ``gmm``, ``sorters``, ``generalization``, ``nemo``, ``rollae``, ``scale``.
    scale_probe : str, default: "Neuropixels-64"
        Probe of the ``scale`` section: the location sorter on a long lazily generated recording, in its own
        process, whose peak memory the report states.
    scale_duration_s : float, default: -1
        Duration of that recording; -1: by size (10 s for tiny, 600 s for quick and full).
    motion_duration_s : float, default: -1
        Duration of each drifting recording of the motion section (``correct_motion`` with each localizer
        against the ground-truth drift); -1: by size (12 s, one scenario and no monopolar_triangulation for
        tiny; 45 s for quick; 120 s for full; three scenarios).
    seed : int, default: 0
    job_kwargs : dict, default: {"n_jobs": 1, "chunk_duration": "1s", "progress_bar": False}
    """

    size: str = "quick"
    localization_methods: tuple = LOCALIZATION_METHODS
    sorter_localization_methods: tuple | None = None
    internal_sorter: str | None = "tridesclous2"
    vae_epochs: int | None = None
    max_spikes_per_unit: int | None = -1
    n_components: tuple | None = None
    n_pcs: int = 2
    pc_scale: float = 5.0
    sections: tuple = SECTIONS
    seed: int = 0
    scale_probe: str = "Neuropixels-64"
    scale_duration_s: float = -1
    motion_duration_s: float = -1
    job_kwargs: dict = field(default_factory=lambda: {"n_jobs": 1, "chunk_duration": "1s", "progress_bar": False})

    def __post_init__(self):
        if self.size not in ("tiny", "quick", "full"):
            raise ValueError(f"size must be tiny, quick or full, not {self.size!r}")
        unknown = set(self.sections) - set(SECTIONS)
        if unknown:
            raise ValueError(f"Unknown sections {sorted(unknown)}; choose among {SECTIONS}")

    @property
    def effective_vae_epochs(self) -> int | None:
        if self.vae_epochs is not None:
            return int(self.vae_epochs)
        return {"tiny": 5, "quick": 20, "full": None}[self.size]

    @property
    def effective_scale_duration_s(self) -> float:
        if self.scale_duration_s > 0:
            return float(self.scale_duration_s)
        return {"tiny": 10.0, "quick": 600.0, "full": 600.0}[self.size]

    @property
    def effective_motion_duration_s(self) -> float:
        if self.motion_duration_s > 0:
            return float(self.motion_duration_s)
        return {"tiny": 12.0, "quick": 45.0, "full": 120.0}[self.size]

    @property
    def effective_motion_scenarios(self) -> tuple:
        return ("zigzag",) if self.size == "tiny" else ("zigzag", "bumps", "nonrigid")

    @property
    def effective_motion_methods(self) -> tuple:
        if self.size == "tiny":  # monopolar_triangulation takes minutes even there
            return ("center_of_mass", "grid_convolution", "vae")
        # "vae": trained on the recording; "vae_default": what correct_motion(method="vae") uses (the shipped one)
        return ("center_of_mass", "monopolar_triangulation", "grid_convolution", "vae", "vae_default")

    @property
    def effective_max_spikes_per_unit(self) -> int | None:
        if self.max_spikes_per_unit is None or self.max_spikes_per_unit > 0:
            return self.max_spikes_per_unit
        return {"tiny": None, "quick": 30, "full": 300}[self.size]

    @property
    def effective_sorter_localization_methods(self) -> tuple:
        if self.sorter_localization_methods is not None:
            return tuple(self.sorter_localization_methods)
        if self.size == "full":
            return ("vae", "center_of_mass", "monopolar_triangulation")
        return ("vae", "center_of_mass")
