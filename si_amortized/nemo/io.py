"""Saving and loading NEMO models: a torch state dict + config file, the shipped pretrained model, and the
flat float32 vector form stored in the extension folder (one ``.npy`` / zarr array, no pickled modules)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from .config import NemoConfig, nemo_config_from_dict
from .model import NemoModel

__all__ = [
    "save_nemo_model",
    "load_nemo_model",
    "pretrained_model_path",
    "load_pretrained_model",
    "model_to_vector",
    "model_from_vector",
]

PRETRAINED_DIR = Path(__file__).parent / "pretrained"
PRETRAINED_WEIGHTS = PRETRAINED_DIR / "nemo_mearec_default.pt"


def save_nemo_model(model: NemoModel, path: str | Path, metadata: dict | None = None) -> Path:
    """Save ``{"config", "state_dict", "metadata"}`` with ``torch.save`` (tensors and plain types only)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    torch.save({"config": asdict(model.config), "state_dict": state, "metadata": metadata or {}}, path)
    return path


def load_nemo_model(path: str | Path) -> NemoModel:
    """Load a model written by :func:`save_nemo_model` (eval mode, CPU)."""
    payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    model = NemoModel(nemo_config_from_dict(payload["config"]))
    model.load_state_dict(payload["state_dict"])
    return model.eval()


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


def model_to_vector(model: NemoModel) -> np.ndarray:
    """All state-dict entries (float32) concatenated in state-dict order, shape ``(num_values,)``."""
    parts = [v.detach().cpu().reshape(-1).to(torch.float32) for v in model.state_dict().values()]
    return torch.cat(parts).numpy() if parts else np.zeros(0, dtype=np.float32)


def model_from_vector(vector: np.ndarray, config: NemoConfig | dict) -> NemoModel:
    """Inverse of :func:`model_to_vector` for a model built from ``config``."""
    model = NemoModel(nemo_config_from_dict(config))
    vector = np.asarray(vector, dtype=np.float32)
    state = model.state_dict()
    total = sum(v.numel() for v in state.values())
    if vector.size != total:
        raise ValueError(f"weight vector has {vector.size} values, the model needs {total}")
    new_state, start = {}, 0
    for k, v in state.items():
        chunk = torch.from_numpy(vector[start : start + v.numel()].copy()).reshape(v.shape).to(v.dtype)
        new_state[k] = chunk
        start += v.numel()
    model.load_state_dict(new_state)
    return model.eval()
