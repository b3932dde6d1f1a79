"""``nemo_embeddings``: NEMO unit representations as a SortingAnalyzer extension (thin; maths lives elsewhere)."""

from __future__ import annotations

from itertools import chain

import numpy as np
import spikeinterface.postprocessing  # noqa: F401  (registers the dependencies first)
from spikeinterface.core.sortinganalyzer import AnalyzerExtension

from .fit import DEFAULT_EMBEDDING, embed, embedding_feature_names, embedding_features, embedding_parts
from .inputs import METRIC_EXTENSIONS, prepare_inputs, unit_metrics, usable_units
from ..extension_support import StoredModelExtension, register_extension, resolve_model
from ..model_store import EXTENSION_DATA_KEYS
from .io import MODEL_KIND, PRETRAINED_NAME, load_any_nemo_model, load_pretrained_model, model_from_legacy_vector
from .model import NemoModel

__all__ = ["ComputeNemoEmbeddings", "compute_nemo_embeddings"]

FEATURES = ("nemo", "nemo+metrics")


class ComputeNemoEmbeddings(StoredModelExtension, AnalyzerExtension):
    """NEMO embeddings of units (Yu et al. 2025): ACG-image and waveform encoders trained contrastively.

    Each unit is embedded from its 3D ACG image (sorting spike trains) and its peak-channel template
    (``templates``). By default its features are the paper's 500-d representation (ACG encoder 200 + waveform
    encoder 300, before the projections) followed by the waveform's L2-normalized 512-d projection (the space
    the contrastive loss shapes): on the selection recordings of ``benchmarks/nemo_celltypes.py`` linear
    probes classified cell types better from these than from the representation alone
    (``embedding="representation"``, the paper's features) or with the ACG projection added.
    The model is stored with the extension (:meth:`get_model`) and the params name it (``"pretrained"`` for
    the packaged model, else its digest), so a recompute from the stored params or a hard merge re-embeds
    with that same model; soft merges and splits re-embed the new units with it.

    With ``features="nemo+metrics"`` the features are the representation followed by the numeric columns of
    SpikeInterface's ``template_metrics`` and ``spiketrain_metrics`` for the same units (the analyzer's own
    extensions when present, else computed from it with default params without attaching them; NaN where
    SpikeInterface gives NaN). Merges and splits take the metrics of all units again from the new analyzer.

    Parameters
    ----------
    model : NemoModel | str | Path | None, default: None
        None or ``"pretrained"``: the default model shipped with the package; a path: a file written by
        ``save_nemo_model``; a trained :class:`NemoModel`; or the digest stored in earlier params.
    return_projections : bool, default: False
        Also keep the normalized 512-d projections of both modalities, shape (num_units, 2, 512), when the
        embedding does not use them.
    min_spikes : int, default: 10
        Units with fewer spikes, and units whose template is zero or not finite on every channel, get NaN
        rows (with a warning): their ACG image or waveform carries no information.
    batch_size : int, default: 1024
    device : str | None, default: None
        None = CPU; "auto" = CUDA when present.
    features : "nemo" | "nemo+metrics", default: "nemo"
        What ``get_data()`` returns: the NEMO embedding alone, or followed by the hand-crafted metrics.
    embedding : str | list of str, default: ["representation", "waveform_projection"]
        The NEMO columns: one or more of "representation" (500), "acg_projection" (512) and
        "waveform_projection" (512), as a list or joined by "+", always in that order; "representation" alone
        is the paper's features. Stored as a list. Results saved before this parameter existed are
        ["representation"].

    Returns (``get_data``)
    ----------------------
    features : np.ndarray, shape (num_units, num_nemo) or (num_units, num_nemo + num_metrics)
        In the analyzer's unit order; ``num_nemo`` is 1012 by default (500 + 512).
        ``get_data("feature_names")`` names the columns (``nemo_0`` ... ``nemo_499``, ``nemo_acg_proj_0`` ...
        ``nemo_acg_proj_511``, ``nemo_wf_proj_0`` ... ``nemo_wf_proj_511``, then the metric names);
        ``get_data("representations")`` (num_units, 500), ``get_data("projections")`` (num_units, 2, 512; when
        the embedding uses them or ``return_projections``) and ``get_data("metrics")`` (num_units, num_metrics)
        give the parts;
        ``get_data("acg_images")`` (num_units, 10, 101), ``get_data("waveforms")``
        (num_units, num_channels, 90) and ``get_data("valid")`` (num_units,) give the rest.
    """

    extension_name = "nemo_embeddings"
    depend_on = ["templates"]
    need_recording = False
    use_nodepipeline = False
    need_job_kwargs = False
    need_backward_compatibility_on_load = False
    model_kind = MODEL_KIND
    legacy_params = ("model_source", "config")
    model_type = NemoModel
    model_names = (PRETRAINED_NAME,)

    @classmethod
    def _check_params(cls, model=None, return_projections=False, min_spikes=10, batch_size=1024, device=None,
                      features="nemo", embedding=DEFAULT_EMBEDDING):
        super()._check_params(model=model)
        embedding_parts(embedding)
        if int(min_spikes) < 0 or int(batch_size) < 1:
            raise ValueError("min_spikes must be >= 0 and batch_size >= 1")
        if not isinstance(features, str) or features not in FEATURES:
            raise ValueError(f"features must be one of {FEATURES}, not {features!r}")

    @classmethod
    def get_optional_dependencies(cls, **params):
        # ordering only: select / merge / split / hard-merge recompute handle the metrics extensions first
        return list(METRIC_EXTENSIONS) if params.get("features", "nemo") == "nemo+metrics" else []

    def _set_params(self, model=None, return_projections: bool = False, min_spikes: int = 10,
                    batch_size: int = 1024, device=None, features: str = "nemo", embedding=DEFAULT_EMBEDDING):
        named = model is None or model == PRETRAINED_NAME
        model_obj = resolve_model(None if named else model, MODEL_KIND, NemoModel, load_any_nemo_model)
        digest = self._store_model(model_obj if model_obj is not None else load_pretrained_model())
        return dict(
            model=PRETRAINED_NAME if named else digest,
            return_projections=bool(return_projections),
            min_spikes=int(min_spikes),
            batch_size=int(batch_size),
            device=None if device is None else str(device),
            features=str(features),
            embedding=list(embedding_parts(embedding)),
        )

    def _legacy_model(self):
        return model_from_legacy_vector(np.asarray(self.data["model_weights"]), self.params["config"])

    def _embed(self, sorting_analyzer, unit_ids=None) -> dict:
        model = self.get_model()
        acg, wf = prepare_inputs(sorting_analyzer, model.config, unit_ids)
        ids = sorting_analyzer.unit_ids if unit_ids is None else np.asarray(unit_ids)
        counts = sorting_analyzer.sorting.count_num_spikes_per_unit(outputs="array")
        counts = counts[sorting_analyzer.sorting.ids_to_indices(ids)]
        valid = usable_units(ids, counts, wf, self.params.get("min_spikes", 0))  # results saved before 0.2: none
        keep_projections = self.params["return_projections"] or self._embedding() != ("representation",)
        out = embed(model, acg, np.nan_to_num(wf), projections=keep_projections,
                    batch_size=self.params["batch_size"], device=self.params["device"])
        outputs = out if keep_projections else (out,)
        outputs = [np.where(valid.reshape((-1,) + (1,) * (o.ndim - 1)), o, np.nan) for o in outputs]
        data = dict(acg_images=acg, waveforms=wf, valid=valid, representations=outputs[0])
        if keep_projections:
            data["projections"] = outputs[1]
        return data

    def _embedding(self) -> tuple[str, ...]:
        """The embedding's parts (results saved before the parameter existed: the representation)."""
        return embedding_parts(self.params.get("embedding", ["representation"]))

    def _metrics(self, sorting_analyzer) -> dict:
        """The metrics part of the data (all units of ``sorting_analyzer``); empty for ``features="nemo"``."""
        if self.params.get("features", "nemo") != "nemo+metrics":
            return {}
        values, names = unit_metrics(sorting_analyzer)
        return dict(metrics=values, metric_names=dict(columns=names))

    def _run(self, verbose=False):
        self.data.update(self._embed(self.sorting_analyzer))
        self.data.update(self._metrics(self.sorting_analyzer))

    def _get_data(self, output: str = "features"):
        with_metrics = "metrics" in self.data
        if output == "features":
            nemo = embedding_features(self.data["representations"], self.data.get("projections"), self._embedding())
            return np.concatenate([nemo, np.asarray(self.data["metrics"])], axis=1) if with_metrics else nemo
        if output == "feature_names":
            projection_dim = np.shape(self.data["projections"])[2] if "projections" in self.data else 0
            names = embedding_feature_names(np.shape(self.data["representations"])[1], projection_dim,
                                            self._embedding())
            return names + list(self.data["metric_names"]["columns"]) if with_metrics else names
        if output not in self._per_unit_keys():
            raise ValueError(f"output must be one of {sorted(['features', 'feature_names', *self._per_unit_keys()])}")
        return self.data[output]

    def _per_unit_keys(self):
        return [k for k in self.data if k not in EXTENSION_DATA_KEYS and k != "metric_names"]

    def _select_units_extension_data(self, unit_ids):
        idx = self.sorting_analyzer.sorting.ids_to_indices(unit_ids)
        new_data = {k: np.asarray(self.data[k])[idx] for k in self._per_unit_keys()}
        if "metric_names" in self.data:
            new_data["metric_names"] = self.data["metric_names"]
        return {**new_data, **self._model_data()}

    def _recompute_new_units(self, new_unit_ids, new_sorting_analyzer):
        new_ids = list(new_unit_ids)
        fresh = self._embed(new_sorting_analyzer, unit_ids=new_ids)
        all_ids = list(new_sorting_analyzer.unit_ids)
        new_data = self._metrics(new_sorting_analyzer)  # metrics of all units, from the new analyzer
        for key in self._per_unit_keys():
            if key == "metrics":
                continue
            old = np.asarray(self.data[key])
            arr = np.zeros((len(all_ids),) + old.shape[1:], dtype=old.dtype)
            for i, uid in enumerate(all_ids):
                if uid in new_ids:
                    arr[i] = fresh[key][new_ids.index(uid)]
                else:
                    arr[i] = old[self.sorting_analyzer.sorting.id_to_index(uid)]
            new_data[key] = arr
        return {**new_data, **self._model_data()}

    def _merge_extension_data(
        self, merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=None, verbose=False, **job_kwargs
    ):
        return self._recompute_new_units(new_unit_ids, new_sorting_analyzer)

    def _split_extension_data(self, split_units, new_unit_ids, new_sorting_analyzer, verbose=False, **job_kwargs):
        return self._recompute_new_units(list(chain(*new_unit_ids)), new_sorting_analyzer)


register_extension(ComputeNemoEmbeddings)
compute_nemo_embeddings = ComputeNemoEmbeddings.function_factory()
