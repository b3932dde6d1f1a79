"""Saving and loading NEMO models (through :mod:`si_amortized.model_store`) and the shipped pretrained model."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..model_store import ModelRecord, json_native, load_model, register_model_kind, save_model, to_record
from .config import NemoConfig, nemo_config_from_dict
from .model import NemoModel

__all__ = [
    "save_nemo_model",
    "load_nemo_model",
    "pretrained_model_path",
    "load_pretrained_model",
    "load_any_nemo_model",
    "MODEL_KIND",
    "PRETRAINED_NAME",
]

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
PRETRAINED_WEIGHTS = PRETRAINED_DIR / "nemo_mearec_default.pt"


#: Kind of a NEMO model in :mod:`si_amortized.model_store`.
MODEL_KIND = "nemo"
#: The name under which ``model=`` refers to the packaged model.
PRETRAINED_NAME = "pretrained"


def _nemo_parts(model: NemoModel) -> tuple[dict, dict]:
    return {"config": asdict(model.config)}, model.state_dict()


def _nemo_from_parts(metadata: dict, state_dict: dict) -> NemoModel:
    model = NemoModel(nemo_config_from_dict(metadata["config"]))
    model.load_state_dict(state_dict)
    return model.eval()


register_model_kind(MODEL_KIND, NemoModel, _nemo_parts, _nemo_from_parts)


def save_nemo_model(model: NemoModel, path: str | Path, metadata: dict | None = None) -> Path:
    """Save a model with :func:`si_amortized.model_store.save_model`; ``metadata`` (JSON) is kept as ``record``."""
    record = to_record(model)
    if metadata:
        record = ModelRecord(record.kind, {**record.metadata, "record": json_native(metadata)}, record.weights)
    return save_model(record, path)


def load_nemo_model(path: str | Path) -> NemoModel:
    """Load a model written by :func:`save_nemo_model` (eval mode, CPU); files of earlier versions load too."""
    try:
        return load_model(path, kind=MODEL_KIND)
    except ValueError as error:
        if "not a model file" not in str(error):
            raise
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)  # si_amortized <= 0.5 layout
    return _nemo_from_parts({"config": payload["config"]}, payload["state_dict"])


def pretrained_model_path() -> Path:
    """Path of the default model shipped with the package."""
    return PRETRAINED_WEIGHTS


def load_pretrained_model() -> NemoModel:
    """The default model shipped with the package (see ``pretrained/nemo_mearec_default.json``)."""
    if not PRETRAINED_WEIGHTS.is_file():
        raise FileNotFoundError(
            f"no pretrained NEMO weights at {PRETRAINED_WEIGHTS}; run scripts/train_nemo_pretrained.py"
        )
    return load_nemo_model(PRETRAINED_WEIGHTS)


def pretrained_record() -> dict:
    """The JSON record of how the shipped model was trained."""
    return json.loads((PRETRAINED_DIR / "nemo_mearec_default.json").read_text())


def load_any_nemo_model(model) -> NemoModel:
    """A model from ``model=`` as the extension takes it: None or ``"pretrained"`` (the packaged model), a path."""
    if model is None or model == PRETRAINED_NAME:
        return load_pretrained_model()
    return load_nemo_model(model)


def model_from_legacy_vector(vector: np.ndarray, config: NemoConfig | dict) -> NemoModel:
    """A model stored by si_amortized <= 0.5 as one float32 vector (state-dict order) plus its config."""
    model = NemoModel(nemo_config_from_dict(config))
    vector = np.asarray(vector, dtype=np.float32)
    state = model.state_dict()
    total = sum(v.numel() for v in state.values())
    if vector.size != total:
        raise ValueError(f"weight vector has {vector.size} values, the model needs {total}")
    new_state, start = {}, 0
    for k, v in state.items():
        new_state[k] = torch.from_numpy(vector[start : start + v.numel()].copy()).reshape(v.shape).to(v.dtype)
        start += v.numel()
    model.load_state_dict(new_state)
    return model.eval()
