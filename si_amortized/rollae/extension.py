"""``well_embeddings``: Roll-AE embeddings of the well(s) of one SortingAnalyzer (thin extension)."""

from __future__ import annotations

from spikeinterface.core.sortinganalyzer import AnalyzerExtension

from ..extension_support import StoredModelExtension, register_extension, resolve_model
from ..model_store import json_native
from .estimator import MODEL_KIND, RollAE
from .plate import embed_wells, fit_well_model

__all__ = ["ComputeWellEmbeddings", "compute_well_embeddings"]


class ComputeWellEmbeddings(StoredModelExtension, AnalyzerExtension):
    """Roll-AE embedding of every well of the analyzer (units placed on their main channel, binned).

    Parameters
    ----------
    model : RollAE | str | None, default: None
        A fitted :class:`~si_amortized.rollae.RollAE`, a saved one (file or folder), the digest stored in
        earlier params, or ``None`` to fit a new one on this analyzer's wells when the parameters are set
        (sensible only with many wells) using ``fit_kwargs``. The model is stored with the extension and
        the params name it by digest: a recompute from the stored params or a hard merge reuses it.
    bin_width_s : float, default: 0.5
        Bin width (the paper: 500 ms).
    well_property : str | None, default: None
        Channel property naming wells (see :func:`~si_amortized.rollae.wells.well_channel_groups`).
    grid_shape : tuple of int | None, default: None
        Pool electrodes into this ``(rows, cols)`` grid first (wells recording different electrodes).
    fit_kwargs : dict | None, default: None
        :class:`~si_amortized.rollae.RollAEConfig` fields for a model fitted here.

    Returns
    -------
    pandas.DataFrame
        ``get_data()``: one row per well (index ``well``), columns ``emb_0 .. emb_{k-1}``.
        The model is kept with the extension (``get_model()``).
    """

    extension_name = "well_embeddings"
    depend_on = []
    need_recording = False
    use_nodepipeline = False
    need_job_kwargs = False
    model_kind = MODEL_KIND
    legacy_params = ("model_path",)
    model_type = RollAE

    @classmethod
    def _check_params(cls, model=None, bin_width_s=0.5, well_property=None, grid_shape=None, fit_kwargs=None):
        super()._check_params(model=model)
        if float(bin_width_s) <= 0:
            raise ValueError(f"bin_width_s must be positive, got {bin_width_s}")
        if grid_shape is not None and (len(grid_shape) != 2 or min(int(v) for v in grid_shape) < 1):
            raise ValueError(f"grid_shape must be (rows, cols) of positive integers, got {grid_shape!r}")
        RollAE(None, **dict(fit_kwargs or {}))  # unknown or invalid settings raise here

    def _set_params(self, model=None, bin_width_s=0.5, well_property=None, grid_shape=None, fit_kwargs=None):
        settings = dict(
            bin_width_s=float(bin_width_s),
            well_property=well_property,
            grid_shape=None if grid_shape is None else [int(v) for v in grid_shape],
            fit_kwargs=json_native(dict(fit_kwargs or {})),
        )
        fitted = resolve_model(model, MODEL_KIND, RollAE, RollAE.load)
        if fitted is None:
            fitted = fit_well_model(self.sorting_analyzer, **settings)
        return json_native(dict(model=self._store_model(fitted), **settings))

    def _embed(self, analyzer, unit_ids=None) -> dict:
        settings = {k: self.params.get(k) for k in ("bin_width_s", "well_property", "grid_shape")}
        embeddings, _ = embed_wells(analyzer, model=self.get_model(), unit_ids=unit_ids, **settings)
        data = dict(embeddings=embeddings.to_numpy(), well_ids=embeddings.index.to_numpy().astype(str))
        return {**data, **self._model_data()}

    def _legacy_model(self):
        """A model stored by si_amortized <= 0.5: ``model_meta`` plus one ``model_param_i`` array per tensor."""
        meta = dict(self.data["model_meta"])
        keys = meta.pop("state_keys")
        return RollAE.from_state(meta, {k: self.data[f"model_param_{i}"] for i, k in enumerate(keys)})

    def _run(self, verbose=False):
        self.data.update(self._embed(self.sorting_analyzer))

    def _select_units_extension_data(self, unit_ids):
        return self._embed(self.sorting_analyzer, unit_ids=unit_ids)

    def _merge_extension_data(self, merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=None,
                              verbose=False, **job_kwargs):
        return self._embed(new_sorting_analyzer)

    def _split_extension_data(self, split_units, new_unit_ids, new_sorting_analyzer, verbose=False, **job_kwargs):
        return self._embed(new_sorting_analyzer)

    def _get_data(self, outputs="dataframe"):
        import pandas as pd

        emb = self.data["embeddings"]
        df = pd.DataFrame(emb, index=pd.Index(self.data["well_ids"].astype(str), name="well"))
        df.columns = [f"emb_{i}" for i in range(emb.shape[1])]
        if outputs == "numpy":
            return emb
        if outputs != "dataframe":
            raise ValueError("outputs must be 'dataframe' or 'numpy'")
        return df


register_extension(ComputeWellEmbeddings)
compute_well_embeddings = ComputeWellEmbeddings.function_factory()
