"""Roll-AE fixtures: a double-precision default dtype (exactness checks) and a two-well plate."""

import numpy as np
import pytest
import torch
from spikeinterface.core import create_sorting_analyzer

from si_amortized.rollae import RollAE, axion_323_positions

from .helpers import plate_recording


@pytest.fixture
def float64_default_dtype():
    """Exactness checks in double precision; the default dtype is restored afterwards."""
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    yield
    torch.set_default_dtype(old)


@pytest.fixture(scope="module")
def plate():
    rec, sorting = plate_recording()
    analyzer = create_sorting_analyzer(sorting, rec, sparse=False)
    X = np.random.default_rng(0).poisson(1.0, size=(16, 8, 12)).astype(np.float32)
    model = RollAE(axion_323_positions(200.0), embedding_dim=4, encoder_hidden=(8, 6), decoder_hidden=(6, 8), receptive_field=4, epochs=1, seed=0).fit(X)
    return rec, sorting, analyzer, model
