"""``vae_locations``: per-spike VAE locations as a SortingAnalyzer extension."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

import spikeinterface.postprocessing  # noqa: F401  (registers the extensions we may depend on)
from spikeinterface.core.analyzer_extension_core import BaseSpikeVectorExtension
from spikeinterface.core.node_pipeline import SpikeRetriever
from spikeinterface.core.sortinganalyzer import register_result_extension

from .config import INFERENCE_FIELDS, split_config_kwargs
from .fit import load_localizer, localizer_from_bytes, localizer_to_bytes
from .nodes import LocalizeVae, feature_config_of


class ComputeVaeLocations(BaseSpikeVectorExtension):
    """Localize every spike with the amortized VAE of Hurwitz et al. (2019).

    The localizer is trained (unsupervised) on a random subset of the analyzer's spikes, then
    applied to all spikes through SpikeInterface's node pipeline (``n_jobs``, ``chunk_duration``,
    ``progress_bar`` apply). The trained model is stored with the extension (``vae_model``) and can
    be reused on another recording with ``model=``.

    Parameters
    ----------
    model : VaeLocalizer | str | Path | None, default: None
        A trained localizer, or a path to one (a file from ``save_localizer``, an extension folder or
        an analyzer folder); training is then skipped. Its probe layout must match.
    verbose : bool, default: False
        Print the training loss per epoch.
    **kwargs
        Fields of ``FeatureConfig`` (``half_width_um``, ``amp_jitter_uv``, ``peak_sign``, ...),
        ``ModelConfig`` and ``TrainingConfig`` (``epochs``, ``max_spikes``, ``seed``, ``device``, ...).

    Returns
    -------
    vae_locations : np.ndarray, shape (num_spikes,)
        Structured array with fields x, y, z (micrometres; z >= 0 is the distance from the probe plane)
        and x_std, y_std, z_std (posterior standard deviations).
    """

    extension_name = "vae_locations"
    depend_on = []
    nodepipeline_variables = ["vae_locations"]

    def _set_params(self, model=None, verbose=False, **kwargs):
        self._model_object = None
        model_path = None
        if model is not None:
            if isinstance(model, (str, Path)):
                model_path = str(Path(model).absolute())
            self._model_object = load_localizer(model)
            trained = dataclasses.asdict(feature_config_of(self._model_object))
            for key, value in kwargs.items():
                if key in trained and key not in INFERENCE_FIELDS and trained[key] != value:
                    raise ValueError(f"{key}={value!r} differs from the given model's {trained[key]!r}")
            kwargs = {**trained, **kwargs}
        feature_config, model_config, training_config = split_config_kwargs(kwargs)
        return dict(
            model=model_path,
            model_given=model is not None,
            verbose=bool(verbose),
            feature_config=dataclasses.asdict(feature_config),
            model_config=dataclasses.asdict(model_config),
            training_config=dataclasses.asdict(training_config),
        )

    def _get_pipeline_nodes(self):
        recording = self.sorting_analyzer.recording
        retriever = SpikeRetriever(self.sorting_analyzer.sorting, recording, channel_from_template=True)
        model = getattr(self, "_model_object", None)
        if model is None and self.params["model_given"] and "vae_model" in self.data:
            model = self.get_model()
        if model is not None:
            kwargs = {k: self.params["feature_config"][k] for k in INFERENCE_FIELDS}
        else:
            kwargs = {**self.params["feature_config"], **self.params["model_config"], **self.params["training_config"]}
        node = LocalizeVae(recording, parents=[retriever], model=model, verbose=self.params["verbose"], **kwargs)
        self.data["vae_model"] = np.frombuffer(localizer_to_bytes(node.model), dtype=np.uint8).copy()
        return [retriever, node]

    def get_model(self):
        """The trained :class:`VaeLocalizer` stored with this extension."""
        return localizer_from_bytes(np.asarray(self.data["vae_model"]).astype(np.uint8).tobytes())

    def _with_model(self, new_data):
        if "vae_model" in self.data:
            new_data["vae_model"] = np.asarray(self.data["vae_model"]).copy()
        return new_data

    def _select_units_extension_data(self, unit_ids):
        return self._with_model(super()._select_units_extension_data(unit_ids))

    def _merge_extension_data(self, merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=None, verbose=False, **job_kwargs):
        new_data = super()._merge_extension_data(
            merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=keep_mask, verbose=verbose, **job_kwargs
        )
        return self._with_model(new_data)

    def _split_extension_data(self, split_units, new_unit_ids, new_sorting_analyzer, verbose=False, **job_kwargs):
        new_data = super()._split_extension_data(split_units, new_unit_ids, new_sorting_analyzer, verbose=verbose, **job_kwargs)
        return self._with_model(new_data)


register_result_extension(ComputeVaeLocations)
compute_vae_locations = ComputeVaeLocations.function_factory()
