"""The old path :mod:`si_amortized.nemo.firing` (moved to :mod:`si_amortized.datasets.firing`) still imports, with a
DeprecationWarning (one release)."""

import importlib
import sys

import pytest

import si_amortized.datasets as datasets


def test_old_module_path_warns_and_reexports():
    old, new = "si_amortized.nemo.firing", "si_amortized.datasets.firing"
    names = ["FIRING_PROFILES", "simulate_spike_trains"]
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert all(getattr(module, name) is getattr(datasets, name) for name in names)
