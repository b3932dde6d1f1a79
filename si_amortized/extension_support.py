"""What the plugin's SortingAnalyzer extensions share: idempotent registration, a stored model, early checks.

SpikeInterface recomputes an extension from its stored params (``analyzer.compute(name, **ext.params)``,
hard merges). The extensions therefore keep their trained model as extension data
(:mod:`si_amortized.model_store`) and put its digest in the params; a recompute finds the model again by
digest among the models met in this session (computed here, or loaded with an analyzer).

SpikeInterface empties an extension's folder before ``_set_params`` runs, and drops the old result when
anything raises after that. :meth:`StoredModelExtension.get_required_dependencies` is the one hook that
runs before: the extensions check their params there, so that a bad recompute raises without losing
the saved result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import spikeinterface.postprocessing  # noqa: F401  (SpikeInterface's own extensions registered first)
from spikeinterface.core import sortinganalyzer as _si_analyzer

from .model_store import (
    EXTENSION_DATA_KEYS,
    ModelRecord,
    from_record,
    is_digest,
    recall,
    record_from_extension_data,
    record_to_extension_data,
    remember,
    to_record,
)

__all__ = ["register_extension", "StoredModelExtension", "resolve_model", "check_model_reference"]


def register_extension(extension_class) -> None:
    """Register an extension with SpikeInterface; registering a new class of the same name replaces the old.

    SpikeInterface refuses a second class under an existing name (``AssertionError: Extension name
    already exists``), which a module reload (``importlib.reload``, ``%autoreload``) triggers.
    """
    name = extension_class.extension_name
    _si_analyzer._possible_extensions[:] = [
        ext for ext in _si_analyzer._possible_extensions if ext is extension_class or ext.extension_name != name
    ]
    for children in _si_analyzer._extension_children.values():
        while name in children:
            children.remove(name)
    _si_analyzer.register_result_extension(extension_class)


def check_model_reference(model, model_type: type, names: tuple = ()) -> None:
    """Raise a clear error when ``model`` cannot be resolved; loads nothing.

    Parameters
    ----------
    model : None | model object | ModelRecord | str | Path
    model_type : type
        The wing's model class.
    names : tuple of str, default: ()
        Names accepted as they are (e.g. ``"pretrained"``).
    """
    if model is None or isinstance(model, (model_type, ModelRecord)) or model in names:
        return
    if is_digest(model):
        if recall(model) is None:
            raise ValueError(
                f"model={model!r} names a model stored with an earlier computation that is not loaded in this "
                "session: load the analyzer that holds it first (load_sorting_analyzer), or pass the model "
                "itself or the path of a saved one"
            )
        return
    if isinstance(model, (str, Path)):
        if not Path(model).exists():
            raise FileNotFoundError(f"model={str(model)!r}: no such file or folder")
        return
    raise TypeError(
        f"model must be None, a {model_type.__name__}, a path or a stored model digest, not {type(model).__name__}"
    )


def resolve_model(model, kind: str, model_type: type, load_path: Callable):
    """The model object a ``model=`` argument names (None stays None).

    Parameters
    ----------
    model : None | model object | ModelRecord | str | Path
        A digest (``"sha256:..."``) is looked up among the models met in this session.
    kind : str
        Model kind in :mod:`si_amortized.model_store`.
    model_type : type
    load_path : callable
        ``path -> model`` for the wing's saved files and folders.
    """
    if model is None or isinstance(model, model_type):
        return model
    check_model_reference(model, model_type)
    if isinstance(model, ModelRecord):
        return from_record(model, kind=kind)
    if is_digest(model):
        return from_record(recall(model), kind=kind)
    return load_path(model)


class StoredModelExtension:
    """Mixin of an ``AnalyzerExtension`` whose result comes from a trained model kept with it.

    Subclasses set ``model_kind``, ``model_type`` and ``legacy_params``, may define ``_check_params(**params)`` (cheap checks,
    run before SpikeInterface touches the saved result) and ``_legacy_model()`` (older data layouts).
    """

    model_kind: str = ""
    model_type: type = object
    #: Param names of results saved by earlier versions (ignored, so those results still select / merge).
    legacy_params: tuple = ()

    @classmethod
    def _current(cls, params: dict) -> dict:
        return {k: v for k, v in params.items() if k not in cls.legacy_params}

    @classmethod
    def get_required_dependencies(cls, **params):
        params = cls._current(params)
        if params:
            cls._check_params(**params)
        return super().get_required_dependencies(**params)

    def set_params(self, save=True, **params):
        super().set_params(save=save, **self._current(params))

    @classmethod
    def _check_params(cls, **params) -> None:
        check_model_reference(params.get("model"), cls.model_type, getattr(cls, "model_names", ()))

    def _store_model(self, model) -> str:
        """Keep ``model`` (object) and its extension data; returns its digest."""
        record = to_record(model)
        self._model = model
        self.data.update(record_to_extension_data(record))
        return remember(record)

    def _model_data(self) -> dict:
        """The stored model's entries of ``self.data`` (to carry through select / merge / split)."""
        return {k: self.data[k] for k in EXTENSION_DATA_KEYS if k in self.data}

    def get_model(self):
        """The trained model of this result (rebuilt from the stored weights after a reload)."""
        model = getattr(self, "_model", None)
        if model is None:
            if "model_info" in self.data:
                record = record_from_extension_data(self.data)
                remember(record)
                model = from_record(record, kind=self.model_kind)
            else:
                model = self._legacy_model()
            self._model = model
        return model

    def _legacy_model(self):
        raise KeyError(f"no stored model in the {self.extension_name} extension's data")

    def load_data(self, lazy=False):
        super().load_data(lazy=lazy)
        if "model_info" in self.data:
            remember(record_from_extension_data(self.data))
