"""Deprecated: moved to :mod:`si_amortized.datasets.celltypes`; this path goes in the next release."""

import warnings

from si_amortized.datasets.celltypes import library_fold, simulate_celltype_analyzer

__all__ = ["library_fold", "simulate_celltype_analyzer"]

warnings.warn(
    "si_amortized.nemo.simulation moved to si_amortized.datasets.celltypes; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
