"""SpikeInterface pipeline node running the VAE localizer, and its registration as the ``"vae"`` method."""

from __future__ import annotations

import dataclasses
import os
import warnings

import numpy as np
import torch

from spikeinterface.core.node_pipeline import PeakRetriever, PipelineNode, SpikeRetriever

from .._torch import resolve_device
from .config import INFERENCE_FIELDS, FeatureConfig, split_config_kwargs
from .extraction import check_layout, fit_localizer_on_recording, traces_in_uv
from .fit import aggregate_locations, load_localizer, predict_examples
from .neighbourhood import channel_neighbours_mask, compute_examples, margin_samples, neighbourhood_from_config

vae_location_dtype = np.dtype(
    [("x", "float64"), ("y", "float64"), ("z", "float64"), ("x_std", "float64"), ("y_std", "float64"), ("z_std", "float64")]
)


def peaks_from_source(source) -> np.ndarray:
    """All peaks of a pipeline peak source (``PeakRetriever`` or ``SpikeRetriever``)."""
    if isinstance(source, SpikeRetriever):
        spikes = source.spike_vector
        peaks = np.zeros(spikes.size, dtype=[("sample_index", "int64"), ("channel_index", "int64"), ("segment_index", "int64")])
        peaks["sample_index"] = spikes["sample_index"]
        peaks["channel_index"] = source.main_channel_indices[spikes["unit_index"]]
        peaks["segment_index"] = spikes["segment_index"]
        return peaks
    if isinstance(source, PeakRetriever):
        return source._peaks
    raise TypeError(f"The VAE localizer cannot take its training spikes from a {type(source).__name__}")


def feature_config_of(model) -> FeatureConfig:
    """The :class:`FeatureConfig` a trained localizer was made with."""
    return FeatureConfig(**model.metadata["feature_config"])


def prepare_localizer(recording, peaks: np.ndarray | None, model=None, verbose: bool = False, **kwargs):
    """A trained localizer for ``recording``: ``model`` (checked against the layout) or a new one trained on ``peaks``.

    Parameters
    ----------
    recording : BaseRecording
    peaks : np.ndarray | None
        Training spikes (``sample_index``, ``channel_index``, ``segment_index``); unused when ``model`` is given.
    model : VaeLocalizer | str | Path | None, default: None
        A trained localizer or a path to one (see :func:`si_amortized.localization.load_localizer`).
    verbose : bool, default: False
    **kwargs
        Fields of FeatureConfig, ModelConfig and TrainingConfig.

    Returns
    -------
    VaeLocalizer
    """
    feature_config, model_config, training_config = split_config_kwargs(kwargs)
    if model is not None:
        model = load_localizer(model)
        trained_config = feature_config_of(model)
        given = {k for k in kwargs if k in {f.name for f in dataclasses.fields(FeatureConfig)}}
        conflicts = [
            k for k in given if k not in INFERENCE_FIELDS and getattr(trained_config, k) != getattr(feature_config, k)
        ]
        if conflicts:
            raise ValueError(
                f"Feature parameters {sorted(conflicts)} differ from those the given model was trained with; "
                "leave them out when passing model=."
            )
        check_layout(model, recording, trained_config)
        return model
    if peaks is None:
        raise ValueError("Training a VAE localizer needs the spikes (peaks) of the recording")
    return fit_localizer_on_recording(recording, peaks, feature_config, model_config, training_config, verbose=verbose)


class LocalizeVae(PipelineNode):
    """Localize peaks with the amortized VAE localizer (Hurwitz et al. 2019).

    Unless ``model`` is given, the localizer is trained (unsupervised) on a random subset of the
    peaks of the parent peak source when the node is built, before the pipeline runs; the pipeline
    then runs amortized inference chunk by chunk.
    """

    name = "vae"
    need_waveforms = False
    params_doc = """
    model: VaeLocalizer | str | Path | None, default: None
        Trained localizer (or path to one) to reuse; None trains one on these peaks first.
    half_width_um: float, default: 20.0
        Half-width of the square neighbourhood around the peak channel (virtual channels outside the array).
    amp_jitter_uv: float, default: 10.0
        Amplitude jitter: channels within this many uV of the largest become extra centred examples, averaged.
    epochs: int, default: 20
        Training epochs; see si_amortized.localization.TrainingConfig for the other training fields.
    device: str | None, default: None
        None: CPU, "auto": CUDA when available.
    """

    def __init__(
        self,
        recording,
        parents,
        return_output=True,
        model=None,
        inference_batch_size: int = 4096,
        verbose: bool = False,
        radius_um=None,
        **kwargs,
    ):
        PipelineNode.__init__(self, recording, return_output=return_output, parents=parents)
        source = parents[0]
        peaks = None if model is not None else peaks_from_source(source)
        self.model = prepare_localizer(recording, peaks, model=model, verbose=verbose, **kwargs)
        overrides = {k: kwargs[k] for k in INFERENCE_FIELDS if k in kwargs}
        self.config = dataclasses.replace(feature_config_of(self.model), **overrides)
        self.device = kwargs.get("device", None)
        self.inference_batch_size = int(inference_batch_size)
        locations = recording.get_channel_locations()
        self.channel_locations = np.asarray(locations, dtype="float64")[:, :2]
        self.neighbourhood = neighbourhood_from_config(locations, self.config)
        self.candidates = channel_neighbours_mask(locations, self.config.peak_radius_um)
        self.sampling_frequency = recording.sampling_frequency
        self._margin = margin_samples(self.config, self.sampling_frequency)
        self._recording = recording
        self._parent_pid = os.getpid()
        self._worker_ready = False
        self._dtype = vae_location_dtype
        self._kwargs.update(dict(model=self.model, inference_batch_size=inference_batch_size))

    def get_dtype(self):
        return self._dtype

    def get_margin(self):
        return self._margin

    def _device(self) -> torch.device:
        device = resolve_device(self.device)
        if device.type == "cuda":
            try:
                torch.zeros(1, device=device)
            except RuntimeError:  # e.g. forked worker after CUDA initialisation
                warnings.warn("CUDA unavailable in this worker (fork after CUDA init?): using the CPU")
                device = torch.device("cpu")
        return device

    def compute(self, traces, peaks, *args):
        out = np.zeros(peaks.size, dtype=self._dtype)
        if peaks.size == 0:
            return out
        if os.getpid() != self._parent_pid and not self._worker_ready:
            # a forked worker must not enter the thread pool inherited from the parent (it hangs):
            # re-set torch's pool once per worker; the workers are the parallelism
            torch.set_num_threads(1)
            self._worker_ready = True
        traces = traces_in_uv(self._recording, traces)
        examples = compute_examples(
            traces,
            peaks["sample_index"],
            peaks["channel_index"],
            self.neighbourhood,
            self.candidates,
            self.config,
            self.sampling_frequency,
        )
        with torch.no_grad():
            mean, var = predict_examples(self.model, examples, self.inference_batch_size, self._device())
        locations, std = aggregate_locations(examples, mean, var, self.channel_locations)
        for i, name in enumerate("xyz"):
            out[name] = locations[:, i]
            out[f"{name}_std"] = std[:, i]
        return out


def register_vae_localization_method() -> None:
    """Make ``"vae"`` a method of ``localize_peaks`` and of the ``spike_locations`` extension."""
    from spikeinterface.sortingcomponents.peak_localization import method_list

    method_list.peak_localization_methods[LocalizeVae.name] = LocalizeVae
    try:  # spike_locations imports the dtypes by method name
        from spikeinterface.postprocessing.unit_locations import dtype_localize_by_method

        dtype_localize_by_method.setdefault(LocalizeVae.name, vae_location_dtype.descr)
    except ImportError:  # pragma: no cover
        pass
