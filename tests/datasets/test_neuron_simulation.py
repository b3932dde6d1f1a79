"""Template simulation with NEURON/LFPy (runs where the simulation extra is installed)."""

import importlib.util

import numpy as np
import pytest

from si_amortized.datasets import simulate_templates

HAS_NEURON = importlib.util.find_spec("neuron") is not None and importlib.util.find_spec("LFPy") is not None


@pytest.mark.neuron
@pytest.mark.skipif(not HAS_NEURON, reason="NEURON/LFPy not installed: pip install 'si_amortized[simulation]'")
def test_simulate_templates_of_one_cell_model():
    """Compiles MEArec's mechanisms, simulates one interneuron, projects it on a tetrode; cached afterwards."""
    library = simulate_templates("tetrode-mea-l", n_per_cell=2, cell_models=["L5_BP"], seed=3)
    assert library.templates.shape[:2] == (2, 4)
    assert set(library.mtypes) == {"L5_BP"}
    assert np.all(library.templates.min(axis=(1, 2)) <= -30.0)  # MEArec's min_amp
    again = simulate_templates("tetrode-mea-l", n_per_cell=2, cell_models=["L5_BP"], seed=3)
    np.testing.assert_allclose(again.templates, library.templates, rtol=1e-3, atol=1e-2)  # from the cache
