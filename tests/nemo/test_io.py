"""Saving and loading NEMO models: model-store round trip, the flat weight vector of earlier versions."""

import numpy as np
import pytest
import torch

from si_amortized.model_store import read_record
from si_amortized.nemo.fit import embed
from si_amortized.nemo.io import load_nemo_model, model_from_legacy_vector, save_nemo_model
from si_amortized.nemo.model import NemoModel


def test_model_save_load_and_vector_round_trip(tmp_path):
    torch.manual_seed(3)
    model = NemoModel().eval()
    acg = np.random.default_rng(0).random((5, 10, 101)).astype(np.float32)
    wf = np.random.default_rng(1).normal(size=(5, 1, 90)).astype(np.float32)
    rep, proj = embed(model, acg, wf, projections=True)
    assert proj.shape == (5, 2, 512)
    path = save_nemo_model(model, tmp_path / "m.pt", metadata={"note": "test"})
    np.testing.assert_array_equal(embed(load_nemo_model(path), acg, wf), rep)
    assert read_record(path).metadata["record"] == {"note": "test"}
    # the flat vector of earlier extension folders still loads
    vec = torch.cat([v.reshape(-1).float() for v in model.state_dict().values()]).numpy()
    np.testing.assert_array_equal(embed(model_from_legacy_vector(vec, model.config.to_dict()), acg, wf), rep)
    with pytest.raises(ValueError):
        model_from_legacy_vector(vec[:-1], model.config)
