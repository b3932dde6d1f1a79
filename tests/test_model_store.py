"""One storage for the three kinds of trained model: files, extension data, digests, JSON-native metadata."""

import json

import numpy as np
import pytest
import torch

import si_amortized
from si_amortized.localization import VaeLocalizer
from si_amortized.model_store import (
    ModelRecord,
    from_record,
    json_native,
    read_record,
    recall,
    record_from_extension_data,
    record_to_extension_data,
    remember,
    to_record,
)
from si_amortized.nemo import NemoModel
from si_amortized.rollae import RollAE


def _models():
    torch.manual_seed(0)
    vae = VaeLocalizer(np.zeros((9, 2)), 20, np.ones(3), hidden_sizes=(8,), temporal_components=3).eval()
    nemo = NemoModel().eval()
    X = np.random.default_rng(0).poisson(1.0, size=(8, 8, 12)).astype(np.float32)
    positions = np.array([[x, y] for y in (0, 1, 2) for x in (0, 1, 2) if (x, y) != (1, 1)], float) * 200
    rollae = RollAE(positions, embedding_dim=4, encoder_hidden=(8, 6), decoder_hidden=(6, 8), receptive_field=4,
                    epochs=1, seed=0).fit(X)
    return {"vae_localizer": vae, "nemo": nemo, "rollae": rollae}


def _state(model):
    return (model.net_ if isinstance(model, RollAE) else model).state_dict()


@pytest.mark.parametrize("kind", ["vae_localizer", "nemo", "rollae"])
def test_file_and_extension_data_round_trips_are_exact(kind, tmp_path):
    model = _models()[kind]
    record = to_record(model)
    assert record.kind == kind
    assert json_native(record.metadata) == record.metadata  # nothing that JSON would change (tuples, numpy)
    path = si_amortized.save_model(model, tmp_path / "m.pt")
    for clone in (si_amortized.load_model(path), from_record(record_from_extension_data(record_to_extension_data(record)))):
        assert type(clone) is type(model)
        for (name, a), (name_b, b) in zip(_state(model).items(), _state(clone).items()):
            assert name == name_b
            assert a.dtype == b.dtype
            torch.testing.assert_close(a, b, rtol=0, atol=0)
        assert to_record(clone).digest == record.digest
    with pytest.raises(ValueError, match="expected"):
        si_amortized.load_model(path, kind="something_else")


def test_extension_data_is_json_and_flat_arrays():
    data = record_to_extension_data(to_record(_models()["nemo"]))
    assert set(data) == {"model_info", "model_weights", "model_counters"}
    assert json.loads(json.dumps(data["model_info"])) == data["model_info"]
    assert data["model_weights"].dtype == np.float32 and data["model_weights"].ndim == 1
    assert data["model_counters"].dtype == np.int64  # BatchNorm's num_batches_tracked stays an integer
    total = sum(v.numel() for v in NemoModel().state_dict().values())
    assert data["model_weights"].size + data["model_counters"].size == total


def test_digest_changes_with_any_weight_and_recall():
    model = _models()["vae_localizer"]
    record = to_record(model)
    changed = dict(record.weights)
    name = next(iter(changed))
    changed[name] = changed[name].copy()
    changed[name].reshape(-1)[0] += 1e-6
    other = ModelRecord(record.kind, record.metadata, changed)
    assert other.digest != record.digest and record.digest.startswith("sha256:")
    assert remember(record) == record.digest
    assert recall(record.digest) is record
    assert recall("sha256:ffffffffffffffff") is None


def test_unknown_files_are_refused(tmp_path):
    path = tmp_path / "x.pt"
    torch.save({"hello": torch.zeros(2)}, path)
    with pytest.raises(ValueError, match="not a model file"):
        read_record(path)
    with pytest.raises(FileNotFoundError):
        read_record(tmp_path / "missing.pt")
    with pytest.raises(TypeError, match="not a storable model"):
        to_record(torch.nn.Linear(2, 2))
