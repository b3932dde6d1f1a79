"""The old paths of the moved ground-truth modules still import, with a DeprecationWarning (one release)."""

import importlib
import sys

import pytest

import si_amortized.datasets as datasets


@pytest.mark.parametrize(
    "old, new, names",
    [
        ("si_amortized.nemo.firing", "si_amortized.datasets.firing", ["FIRING_PROFILES", "simulate_spike_trains"]),
        ("si_amortized.nemo.simulation", "si_amortized.datasets.celltypes", ["simulate_celltype_analyzer"]),
    ],
)
def test_old_module_path_warns_and_reexports(old, new, names):
    sys.modules.pop(old, None)
    with pytest.warns(DeprecationWarning, match=f"{old} moved to {new}"):
        module = importlib.import_module(old)
    assert all(getattr(module, name) is getattr(datasets, name) for name in names)
