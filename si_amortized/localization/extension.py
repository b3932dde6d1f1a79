"""``vae_locations``: per-spike VAE locations as a SortingAnalyzer extension."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np

from spikeinterface.core.analyzer_extension_core import BaseSpikeVectorExtension
from spikeinterface.core.node_pipeline import SpikeRetriever

from .._torch import forked_workers_lose_cuda
from ..model_store import json_native
from ..extension_support import StoredModelExtension, register_extension, resolve_model
from .config import INFERENCE_FIELDS, ModelConfig, renamed_settings, split_config_kwargs
from .fit import MODEL_KIND, _localizer_from_legacy_bytes, load_localizer
from .model import VaeLocalizer
from .nodes import LocalizeVae, peaks_from_source
from .prepare import prepare_localizer
from .pretrained import AUTO_NAME, PRETRAINED_NAME, resolve_auto
from .unit_channels import resolve_peak_sign, unit_channels

PEAK_SIGNS = ("auto", "neg", "pos", "both")


def _flat_settings(feature_config, model_config, training_config, kwargs) -> dict:
    """Stored config dicts overlaid with flat keyword arguments (the flat ones win)."""
    stored = renamed_settings({**(feature_config or {}), **(model_config or {}), **(training_config or {})}, warn=False)
    flat = dict(stored)
    flat.update(kwargs)
    return flat


class ComputeVaeLocations(StoredModelExtension, BaseSpikeVectorExtension):
    """Localize every spike with the amortized VAE of Hurwitz et al. (2019).

    Unless ``model`` is given, a localizer is trained (unsupervised) on a random subset of the analyzer's
    spikes when the parameters are set, then applied to all spikes through SpikeInterface's node pipeline
    (``n_jobs``, ``chunk_duration``, ``progress_bar`` apply). The trained model is stored with the
    extension (``get_model()``) and the params name it by digest, so that a recompute from the stored
    params (``analyzer.compute("vae_locations", **ext.params)``, hard merges) reuses it without training.

    Parameters
    ----------
    model : VaeLocalizer | str | Path | None, default: None
        A trained localizer; a path to one (a file from ``save_localizer``, an extension folder or an
        analyzer folder); ``"pretrained"``, the localizer shipped for the recording's layout (trained on
        simulated spikes with known somas; see ``pretrained_files()``); or the digest stored in the params
        of an earlier result. Training is then skipped. Its probe layout must match. ``"auto"``: the shipped
        localizer when one fits the layout, else training (as None).
    peak_sign : "auto" | "neg" | "pos" | "both", default: "auto"
        Polarity of the spikes. "auto" reads it from the units' average waveforms on their main channels
        (negative for almost all units -> "neg", positive -> "pos", mixed -> "both").
    subtract_overlaps : bool | None, default: None
        Localize each spike that overlaps another spike in time after subtracting the overlapping spikes'
        templates (scaled to each spike's amplitude on its unit's main channel) from the samples its
        examples read. None: on when the analyzer has the ``templates`` extension. Stored resolved.
    verbose : bool, default: False
        Print the training loss per epoch.
    feature_config, model_config, training_config : dict | None, default: None
        The stored form of the settings (as in ``ext.params``); flat keywords override them.
    **kwargs
        Fields of ``FeatureConfig`` (``half_width_um``, ``amp_jitter_uv``, ...), ``ModelConfig`` and
        ``TrainingConfig`` (``epochs``, ``max_spikes``, ``seed``, ``device``, ...).

    Returns
    -------
    vae_locations : np.ndarray, shape (num_spikes,)
        Structured array with fields x, y, z (micrometres; z >= 0 is the distance from the probe plane)
        and x_std, y_std, z_std (posterior standard deviations).

    Notes
    -----
    Main channels that carry non-finite traces (dead channels) are replaced by the unit's largest finite
    channel, with a warning.
    """

    extension_name = "vae_locations"
    depend_on = []
    nodepipeline_variables = ["vae_locations"]
    model_kind = MODEL_KIND
    legacy_params = ("model_given",)
    model_type = VaeLocalizer
    model_names = (PRETRAINED_NAME, AUTO_NAME)

    @classmethod
    def _check_params(cls, model=None, peak_sign="auto", verbose=False, feature_config=None, model_config=None,
                      training_config=None, subtract_overlaps=None, **kwargs):
        super()._check_params(model=model)
        if subtract_overlaps not in (None, True, False):
            raise ValueError(f"subtract_overlaps must be None, True or False, not {subtract_overlaps!r}")
        if peak_sign not in PEAK_SIGNS:
            raise ValueError(f"peak_sign must be one of {PEAK_SIGNS}, not {peak_sign!r}")
        flat = _flat_settings(feature_config, model_config, training_config, kwargs)
        flat.pop("peak_sign", None)
        split_config_kwargs(flat)

    def _set_params(self, model=None, peak_sign="auto", verbose=False, feature_config=None, model_config=None,
                    training_config=None, subtract_overlaps=None, **kwargs):
        has_templates = self.sorting_analyzer.has_extension("templates")
        if subtract_overlaps is None:
            subtract_overlaps = has_templates
        elif subtract_overlaps and not has_templates:
            raise ValueError("subtract_overlaps=True needs the templates: analyzer.compute('templates') first")
        flat = _flat_settings(feature_config, model_config, training_config, kwargs)
        model = resolve_auto(model, self.sorting_analyzer.recording)
        given = model if model == PRETRAINED_NAME else resolve_model(model, MODEL_KIND, VaeLocalizer, load_localizer)
        channels = unit_channels(self.sorting_analyzer, seed=int(flat.get("seed", 0)))
        flat["peak_sign"] = resolve_peak_sign(peak_sign, channels.positive)
        self._main_channel_indices = channels.centre_channels(flat["peak_sign"])
        peaks = None if given is not None else peaks_from_source(self._spike_peaks())
        self._prepared = prepare_localizer(self.sorting_analyzer.recording, peaks, model=given, verbose=verbose, **flat)
        localizer = self._prepared.model
        _, model_cfg, training = split_config_kwargs(flat)
        if given is not None:  # what the model was made with
            model_cfg = ModelConfig(**localizer.metadata.get("model_config", dataclasses.asdict(model_cfg)))
        return json_native(dict(
            model=self._store_model(localizer),
            peak_sign=peak_sign,
            subtract_overlaps=bool(subtract_overlaps),
            verbose=bool(verbose),
            feature_config=dataclasses.asdict(self._prepared.config),
            model_config=dataclasses.asdict(model_cfg),
            training_config=dataclasses.asdict(training),
        ))

    def _spike_peaks(self, include_margin: bool = False) -> SpikeRetriever:
        """The analyzer's spikes as a pipeline peak source, on finite main channels."""
        retriever = SpikeRetriever(self.sorting_analyzer.sorting, self.sorting_analyzer.recording,
                                   channel_from_template=True, include_spikes_in_margin=include_margin)
        main = getattr(self, "_main_channel_indices", None)
        if main is None:
            channels = unit_channels(self.sorting_analyzer, seed=self.params["training_config"]["seed"])
            main = channels.centre_channels(resolve_peak_sign(self.params["peak_sign"], channels.positive))
        retriever.main_channel_indices = np.asarray(main)
        return retriever

    def _overlap_templates(self) -> dict:
        """Templates for the subtraction of overlapping spikes (empty when off or unavailable)."""
        if not self.params.get("subtract_overlaps", False):
            return {}
        ext = self.sorting_analyzer.get_extension("templates")
        if ext is None:
            warnings.warn("vae_locations: the templates extension is gone, overlapping spikes are not subtracted")
            return {}
        return dict(templates=ext.get_data(operator="average"), template_nbefore=ext.nbefore)

    def _run(self, verbose=False, **job_kwargs):
        from spikeinterface.core.job_tools import fix_job_kwargs

        job = fix_job_kwargs(job_kwargs)
        if forked_workers_lose_cuda(self.params["training_config"]["device"], job["n_jobs"],
                                    job.get("pool_engine", "process"), job.get("mp_context")):
            warnings.warn(
                "vae_locations: CUDA is already in use in this process, and forked workers cannot start it again: "
                f"the {job['n_jobs']} workers localize on the CPU. For the GPU, use n_jobs=1 (the GPU is the "
                "parallelism) or mp_context='spawn'."
            )
        return super()._run(verbose=verbose, **job_kwargs)

    def _get_pipeline_nodes(self):
        overlap = self._overlap_templates()
        retriever = self._spike_peaks(include_margin=bool(overlap))
        prepared = getattr(self, "_prepared", None)
        if prepared is None:  # reloaded: the stored model and settings, prepared for this recording
            stored = self.params["feature_config"]  # an older release stored fewer inference settings
            inference = {k: stored[k] for k in INFERENCE_FIELDS if k in stored}
            prepared = prepare_localizer(self.sorting_analyzer.recording, model=self.get_model(),
                                         device=self.params["training_config"]["device"], **inference)
            self._prepared = prepared
        return [retriever, LocalizeVae(self.sorting_analyzer.recording, parents=[retriever], prepared=prepared,
                                       **overlap)]

    def _legacy_model(self):
        return _localizer_from_legacy_bytes(np.asarray(self.data["vae_model"]).astype(np.uint8).tobytes())

    def _select_units_extension_data(self, unit_ids):
        return {**super()._select_units_extension_data(unit_ids), **self._model_data()}

    def _merge_extension_data(self, merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=None,
                              verbose=False, **job_kwargs):
        new_data = super()._merge_extension_data(
            merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=keep_mask, verbose=verbose, **job_kwargs
        )
        return {**new_data, **self._model_data()}

    def _split_extension_data(self, split_units, new_unit_ids, new_sorting_analyzer, verbose=False, **job_kwargs):
        new_data = super()._split_extension_data(split_units, new_unit_ids, new_sorting_analyzer, verbose=verbose,
                                                 **job_kwargs)
        return {**new_data, **self._model_data()}


register_extension(ComputeVaeLocations)
compute_vae_locations = ComputeVaeLocations.function_factory()
