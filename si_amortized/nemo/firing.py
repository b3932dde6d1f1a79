"""Deprecated: moved to :mod:`si_amortized.datasets.firing`; this path goes in the next release."""

import warnings

from si_amortized.datasets.firing import FIRING_PROFILES, MTYPES, FiringProfile, draw_mtypes, simulate_spike_trains

__all__ = ["FiringProfile", "FIRING_PROFILES", "MTYPES", "simulate_spike_trains", "draw_mtypes"]

warnings.warn(
    "si_amortized.nemo.firing moved to si_amortized.datasets.firing; the old path goes in the next release",
    DeprecationWarning,
    stacklevel=2,
)
