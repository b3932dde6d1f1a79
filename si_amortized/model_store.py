"""One way to store a trained model of any wing: JSON-native metadata plus its weights.

Every trained model of the package (the VAE localizer, a NEMO model, a fitted Roll-AE) becomes a
:class:`ModelRecord`: a ``kind``, a JSON-native ``metadata`` dict (architecture, configs, training
record) and its state dict as numpy arrays. A record is

- written to / read from one ``.pt`` file (:func:`save_model`, :func:`load_model`; ``torch.load`` with
  ``weights_only=True``, no pickled modules),
- stored as SortingAnalyzer extension data (:func:`record_to_extension_data`): a JSON dict
  ``model_info`` and two flat arrays ``model_weights`` (float32) and ``model_counters`` (int64), which
  binary_folder and zarr save and reload exactly,
- named by a content digest (``"sha256:..."``) that an extension's params refer to, so that
  SpikeInterface's recompute from stored params (hard merges, ``compute`` again) reuses the very model.
  Records met in this session (computed, loaded with an analyzer, read from a file) are kept in a
  small in-memory store (:func:`remember` / :func:`recall`).

The wings register how their model type becomes a record (:func:`register_model_kind`); this module
imports no wing.
"""

from __future__ import annotations

import hashlib
import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

__all__ = [
    "FORMAT_VERSION",
    "ModelRecord",
    "register_model_kind",
    "to_record",
    "from_record",
    "save_model",
    "load_model",
    "read_record",
    "record_to_extension_data",
    "record_from_extension_data",
    "remember",
    "recall",
    "json_native",
]

#: Version of the stored layout (file and extension data); bumped when it changes.
FORMAT_VERSION = 1
DIGEST_PREFIX = "sha256:"
_MEMORY_SIZE = 16


def json_native(value):
    """``value`` as JSON would give it back: tuples become lists, numpy scalars Python numbers.

    Parameters
    ----------
    value : any JSON-serialisable structure (dicts, lists, tuples, numbers, strings, None, numpy scalars)
    """

    def default(obj):
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, np.ndarray):
            return obj.tolist()
        if isinstance(obj, Path):
            return str(obj)
        raise TypeError(f"{type(obj).__name__} is not JSON-serialisable")

    return json.loads(json.dumps(value, default=default))


@dataclass(frozen=True)
class ModelRecord:
    """A trained model as plain data.

    Parameters
    ----------
    kind : str
        Registered model kind (``"vae_localizer"``, ``"nemo"``, ``"rollae"``).
    metadata : dict
        JSON-native description rebuilding the model (architecture, configs) plus any record.
    weights : dict of str -> np.ndarray
        The state dict, in order.
    """

    kind: str
    metadata: dict
    weights: dict

    @property
    def digest(self) -> str:
        """``"sha256:<16 hex>"`` of the kind, the metadata and every weight (name, dtype, shape, bytes)."""
        h = hashlib.sha256()
        h.update(self.kind.encode())
        h.update(json.dumps(self.metadata, sort_keys=True).encode())
        for name, array in self.weights.items():
            array = np.ascontiguousarray(array)
            h.update(f"{name}|{array.dtype.str}|{array.shape}".encode())
            h.update(array.tobytes())
        return DIGEST_PREFIX + h.hexdigest()[:16]


@dataclass(frozen=True)
class _Kind:
    model_type: type
    to_parts: Callable
    from_parts: Callable


_KINDS: dict[str, _Kind] = {}
_MEMORY: "OrderedDict[str, ModelRecord]" = OrderedDict()


def register_model_kind(kind: str, model_type: type, to_parts: Callable, from_parts: Callable) -> None:
    """Declare how a model type becomes a record and back (idempotent: a re-import replaces it).

    Parameters
    ----------
    kind : str
    model_type : type
        Instances of this type are stored under ``kind``.
    to_parts : callable
        ``model -> (metadata, state_dict)`` with JSON-serialisable metadata.
    from_parts : callable
        ``(metadata, state_dict of tensors) -> model`` (eval mode, CPU).
    """
    _KINDS[kind] = _Kind(model_type, to_parts, from_parts)


def _kind_of(model) -> str:
    for kind, spec in _KINDS.items():
        if isinstance(model, spec.model_type):
            return kind
    raise TypeError(f"{type(model).__name__} is not a storable model (known kinds: {sorted(_KINDS)})")


def to_record(model) -> ModelRecord:
    """The :class:`ModelRecord` of a trained model of a registered kind."""
    kind = _kind_of(model)
    metadata, state = _KINDS[kind].to_parts(model)
    weights = {name: _as_numpy(value) for name, value in state.items()}
    return ModelRecord(kind, json_native(metadata), weights)


def _as_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy().copy()
    return np.asarray(value).copy()


def from_record(record: ModelRecord, kind: str | None = None):
    """Rebuild the model of a record (on the CPU, in eval mode).

    Parameters
    ----------
    record : ModelRecord
    kind : str | None, default: None
        When given, a record of another kind is refused with a ValueError.
    """
    if kind is not None and record.kind != kind:
        raise ValueError(f"expected a stored {kind!r} model, got a {record.kind!r} one")
    if record.kind not in _KINDS:
        raise ValueError(f"unknown model kind {record.kind!r}: import si_amortized first")
    state = OrderedDict((name, torch.from_numpy(np.array(a))) for name, a in record.weights.items())
    return _KINDS[record.kind].from_parts(dict(record.metadata), state)


# ------------------------------------------------------------------ files


def save_model(model, path: str | Path) -> Path:
    """Write a trained model (any registered kind) to one ``.pt`` file.

    Parameters
    ----------
    model : VaeLocalizer | NemoModel | RollAE | ModelRecord
    path : str | Path
        The file; parent folders are created.

    Returns
    -------
    Path
    """
    record = model if isinstance(model, ModelRecord) else to_record(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = dict(
        format_version=FORMAT_VERSION,
        kind=record.kind,
        metadata_json=json.dumps(record.metadata),
        state_dict=OrderedDict((k, torch.from_numpy(np.array(v))) for k, v in record.weights.items()),
    )
    torch.save(payload, path)
    return path


def read_record(path: str | Path) -> ModelRecord:
    """The :class:`ModelRecord` in a file written by :func:`save_model`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved model at {path}")
    payload = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(payload, dict) or "format_version" not in payload or "kind" not in payload:
        raise ValueError(f"{path} is not a model file written by si_amortized.save_model")
    if payload["format_version"] > FORMAT_VERSION:
        raise ValueError(
            f"{path} has model format {payload['format_version']}; this si_amortized reads up to "
            f"{FORMAT_VERSION}: upgrade the package"
        )
    weights = OrderedDict((k, v.numpy()) for k, v in payload["state_dict"].items())
    record = ModelRecord(payload["kind"], json.loads(payload["metadata_json"]), weights)
    remember(record)
    return record


def load_model(path: str | Path, kind: str | None = None):
    """Load a model written by :func:`save_model`.

    Parameters
    ----------
    path : str | Path
    kind : str | None, default: None
        Refuse a model of another kind (ValueError).
    """
    return from_record(read_record(path), kind=kind)


# ------------------------------------------------------------------ extension data


def record_to_extension_data(record: ModelRecord) -> dict:
    """A record as SortingAnalyzer extension data.

    Returns
    -------
    dict
        ``model_info`` (JSON: format version, kind, digest, metadata, tensor layout),
        ``model_weights`` float32 array ``(num_float_values,)`` and ``model_counters`` int64 array
        ``(num_integer_values,)``.
    """
    floats, ints, layout = [], [], []
    offsets = {"float": 0, "int": 0}
    for name, array in record.weights.items():
        array = np.asarray(array)
        group = "int" if array.dtype.kind in "iub" else "float"
        flat = array.reshape(-1)
        (ints if group == "int" else floats).append(flat.astype(np.int64 if group == "int" else np.float32))
        layout.append(dict(name=name, dtype=array.dtype.str, shape=list(array.shape), group=group,
                           start=offsets[group], stop=offsets[group] + flat.size))
        offsets[group] += flat.size
    info = dict(format_version=FORMAT_VERSION, kind=record.kind, digest=record.digest,
                metadata=record.metadata, tensors=layout)
    return dict(
        model_info=info,
        model_weights=np.concatenate(floats) if floats else np.zeros(0, np.float32),
        model_counters=np.concatenate(ints) if ints else np.zeros(0, np.int64),
    )


#: Keys of the extension data that :func:`record_to_extension_data` writes.
EXTENSION_DATA_KEYS = ("model_info", "model_weights", "model_counters")


def record_from_extension_data(data: dict) -> ModelRecord:
    """Inverse of :func:`record_to_extension_data`."""
    if "model_info" not in data:
        raise KeyError("no stored model in this extension's data")
    info = data["model_info"]
    groups = dict(float=np.asarray(data["model_weights"]), int=np.asarray(data["model_counters"]))
    weights = OrderedDict()
    for t in info["tensors"]:
        flat = groups[t["group"]][t["start"] : t["stop"]]
        weights[t["name"]] = flat.astype(np.dtype(t["dtype"])).reshape(t["shape"])
    return ModelRecord(info["kind"], info["metadata"], weights)


# ------------------------------------------------------------------ models met in this session


def remember(record: ModelRecord) -> str:
    """Keep ``record`` in this session's store (the latest 16); returns its digest."""
    digest = record.digest
    _MEMORY[digest] = record
    _MEMORY.move_to_end(digest)
    while len(_MEMORY) > _MEMORY_SIZE:
        _MEMORY.popitem(last=False)
    return digest


def recall(digest: str) -> ModelRecord | None:
    """The record with this digest if it was met in this session, else None."""
    record = _MEMORY.get(digest)
    if record is not None:
        _MEMORY.move_to_end(digest)
    return record


def is_digest(value) -> bool:
    """Whether ``value`` is a model digest (``"sha256:..."``)."""
    return isinstance(value, str) and value.startswith(DIGEST_PREFIX)
