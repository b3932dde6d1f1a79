"""Deprecated: renamed :mod:`si_amortized.nemo.classifiers` (a classifier probe, not an electrode probe)."""

import warnings

from .classifiers import *  # noqa: F401,F403
from .classifiers import __all__  # noqa: F401

warnings.warn(
    "si_amortized.nemo.probes is deprecated and will be removed: import from si_amortized.nemo.classifiers",
    DeprecationWarning,
    stacklevel=2,
)
