"""``well_embeddings``: Roll-AE embeddings of the well(s) of one SortingAnalyzer (thin extension)."""

from __future__ import annotations

import spikeinterface.postprocessing  # noqa: F401  (SpikeInterface's own extensions registered first)
from spikeinterface.core.sortinganalyzer import AnalyzerExtension, register_result_extension

from .plate import embed_wells, model_from_extension_data, model_to_extension_data

__all__ = ["ComputeWellEmbeddings", "compute_well_embeddings"]


class ComputeWellEmbeddings(AnalyzerExtension):
    """Roll-AE embedding of every well of the analyzer (units placed on their main channel, binned).

    Parameters
    ----------
    model : RollAE | str | None, default: None
        A fitted :class:`~si_amortized.rollae.RollAE`, the folder of a saved one, or ``None`` to fit a new
        one on this analyzer's wells (sensible only with many wells) using ``fit_kwargs``.
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
        The model's weights are kept as arrays inside the extension folder (``get_model()``).
    """

    extension_name = "well_embeddings"
    depend_on = []
    need_recording = False
    use_nodepipeline = False
    need_job_kwargs = False

    def _set_params(self, model=None, bin_width_s=0.5, well_property=None, grid_shape=None, fit_kwargs=None):
        self._model = model if hasattr(model, "transform") else None
        model_path = str(model) if model is not None and self._model is None else None
        return dict(
            model_path=model_path,
            bin_width_s=float(bin_width_s),
            well_property=well_property,
            grid_shape=None if grid_shape is None else [int(v) for v in grid_shape],
            fit_kwargs=dict(fit_kwargs or {}),
        )

    def _compute(self, analyzer, unit_ids=None, model=None):
        return embed_wells(analyzer, model=model if model is not None else getattr(self, "_model", None), unit_ids=unit_ids, **self.params)

    def _run(self, verbose=False):
        embeddings, model = self._compute(self.sorting_analyzer)
        self._model = model
        self.data = dict(embeddings=embeddings.to_numpy(), well_ids=embeddings.index.to_numpy().astype(str))
        self.data.update(model_to_extension_data(model))

    def get_model(self):
        """The fitted :class:`~si_amortized.rollae.RollAE` used (rebuilt from the stored weights)."""
        if getattr(self, "_model", None) is None:
            self._model = model_from_extension_data(self.data)
        return self._model

    def _recompute_data(self, analyzer, unit_ids=None):
        embeddings, model = self._compute(analyzer, unit_ids=unit_ids, model=self.get_model())
        data = dict(embeddings=embeddings.to_numpy(), well_ids=embeddings.index.to_numpy().astype(str))
        data.update(model_to_extension_data(model))
        return data

    def _select_units_extension_data(self, unit_ids):
        return self._recompute_data(self.sorting_analyzer, unit_ids=unit_ids)

    def _merge_extension_data(self, merge_unit_groups, new_unit_ids, new_sorting_analyzer, keep_mask=None, verbose=False, **job_kwargs):
        return self._recompute_data(new_sorting_analyzer)

    def _split_extension_data(self, split_units, new_unit_ids, new_sorting_analyzer, verbose=False, **job_kwargs):
        return self._recompute_data(new_sorting_analyzer)

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


register_result_extension(ComputeWellEmbeddings)
compute_well_embeddings = ComputeWellEmbeddings.function_factory()
