"""``nemo_embeddings``: NEMO unit representations as a SortingAnalyzer extension (thin; maths lives elsewhere)."""

from __future__ import annotations

from dataclasses import asdict
from itertools import chain
from pathlib import Path

import numpy as np
import spikeinterface.postprocessing  # noqa: F401  (registers the dependencies first)
from spikeinterface.core.sortinganalyzer import AnalyzerExtension, register_result_extension

from .fit import embed
from .inputs import prepare_inputs
from .io import load_nemo_model, load_pretrained_model, model_from_vector, model_to_vector
from .model import NemoModel

__all__ = ["ComputeNemoEmbeddings", "compute_nemo_embeddings"]


class ComputeNemoEmbeddings(AnalyzerExtension):
    """NEMO embeddings of units (Yu et al. 2025): ACG-image and waveform encoders trained contrastively.

    Each unit gets the paper's 500-d representation (ACG encoder 200 + waveform encoder 300, before the
    projections) from its 3D ACG image (sorting spike trains) and its peak-channel template (``templates``).
    The model's weights are stored in the extension folder (``model_weights``) and :meth:`get_model` rebuilds
    it; merges and splits re-embed the new units with that same model.

    Parameters
    ----------
    model : NemoModel | str | Path | None, default: None
        None: the default model shipped with the package; a path: a file written by ``save_nemo_model``;
        or a trained :class:`NemoModel`.
    return_projections : bool, default: False
        Also keep the normalised 512-d projections of both modalities, shape (num_units, 2, 512).
    batch_size : int, default: 1024
    device : str | None, default: None
        None = CPU; "auto" = CUDA when present.

    Returns (``get_data``)
    ----------------------
    representations : np.ndarray, shape (num_units, 500)
        ``get_data("projections")``, ``get_data("acg_images")`` (num_units, 10, 101) and
        ``get_data("waveforms")`` (num_units, num_channels, 90) give the rest.
    """

    extension_name = "nemo_embeddings"
    depend_on = ["templates"]
    need_recording = False
    use_nodepipeline = False
    need_job_kwargs = False
    need_backward_compatibility_on_load = False

    def _set_params(self, model=None, return_projections: bool = False, batch_size: int = 1024, device=None):
        if model is None:
            model_obj, source = load_pretrained_model(), "pretrained"
        elif isinstance(model, NemoModel):
            model_obj, source = model, "user"
        elif isinstance(model, (str, Path)):
            model_obj, source = load_nemo_model(model), str(model)
        else:
            raise TypeError("model must be None, a NemoModel or a path to a saved model")
        self._model = model_obj
        return dict(
            model_source=source,
            config=asdict(model_obj.config),
            return_projections=bool(return_projections),
            batch_size=int(batch_size),
            device=None if device is None else str(device),
        )

    def get_model(self) -> NemoModel:
        """The model these embeddings come from (rebuilt from the stored weights when loaded from disk)."""
        if getattr(self, "_model", None) is None:
            self._model = model_from_vector(np.asarray(self.data["model_weights"]), self.params["config"])
        return self._model

    def _embed(self, sorting_analyzer, unit_ids=None) -> dict:
        model = self.get_model()
        acg, wf = prepare_inputs(sorting_analyzer, model.config, unit_ids)
        out = embed(model, acg, wf, projections=self.params["return_projections"],
                    batch_size=self.params["batch_size"], device=self.params["device"])
        data = dict(acg_images=acg, waveforms=wf)
        if self.params["return_projections"]:
            data["representations"], data["projections"] = out
        else:
            data["representations"] = out
        return data

    def _run(self, verbose=False):
        data = self._embed(self.sorting_analyzer)
        data["model_weights"] = model_to_vector(self.get_model())
        self.data.update(data)

    def _get_data(self, output: str = "representations"):
        if output not in self.data or output == "model_weights":
            raise ValueError(f"output must be one of {sorted(k for k in self.data if k != 'model_weights')}")
        return self.data[output]

    def _per_unit_keys(self):
        return [k for k in self.data if k != "model_weights"]

    def _select_units_extension_data(self, unit_ids):
        idx = self.sorting_analyzer.sorting.ids_to_indices(unit_ids)
        new_data = {k: np.asarray(self.data[k])[idx] for k in self._per_unit_keys()}
        new_data["model_weights"] = np.asarray(self.data["model_weights"])
        return new_data

    def _recompute_new_units(self, new_unit_ids, new_sorting_analyzer):
        self.get_model()
        new_ids = list(new_unit_ids)
        fresh = self._embed(new_sorting_analyzer, unit_ids=new_ids)
        all_ids = list(new_sorting_analyzer.unit_ids)
        new_data = {}
        for key in self._per_unit_keys():
            old = np.asarray(self.data[key])
            arr = np.zeros((len(all_ids),) + old.shape[1:], dtype=old.dtype)
            for i, uid in enumerate(all_ids):
                if uid in new_ids:
                    arr[i] = fresh[key][new_ids.index(uid)]
                else:
                    arr[i] = old[self.sorting_analyzer.sorting.id_to_index(uid)]
            new_data[key] = arr
        new_data["model_weights"] = np.asarray(self.data["model_weights"])
        return new_data

    def _merge_extension_data(
        self, merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=None, verbose=False, **job_kwargs
    ):
        return self._recompute_new_units(new_unit_ids, new_sorting_analyzer)

    def _split_extension_data(self, split_units, new_unit_ids, new_sorting_analyzer, verbose=False, **job_kwargs):
        return self._recompute_new_units(list(chain(*new_unit_ids)), new_sorting_analyzer)


register_result_extension(ComputeNemoEmbeddings)
compute_nemo_embeddings = ComputeNemoEmbeddings.function_factory()
