"""SpikeInterface pipeline node running the VAE localizer, and its registration as the ``"vae"`` method."""

from __future__ import annotations

import os
import warnings
from dataclasses import fields

import numpy as np
import torch

from spikeinterface.core.node_pipeline import PeakDetector, PeakRetriever, PipelineNode, SpikeRetriever

from .._torch import resolve_device, torch_threads
from .config import ModelConfig, TrainingConfig, renamed_settings, setting_names
from .extraction import model_sampling_frequency, traces_in_uv
from .fit import aggregate_locations, predict_examples
from .kernels import load_kernels
from .collisions import TemplateTerms, overlap_pairs, template_scales
from .neighbourhood import compute_examples, margin_samples
from .prepare import PreparedLocalizer, check_given_settings, prepare_localizer
from .pretrained import AUTO_NAME, resolve_auto
from .refine import refine_locations
from .training_peaks import DetectorTrainingSpikes, peak_dtype

#: x, y, z (um; z >= 0 distance from the plane), posterior standard deviations, and ``fallback``: True where
#: the spike could not be localized (no peak of the expected sign, non-finite traces) and was placed on its
#: detection channel (z = 0, standard deviations = the neighbourhood's half-width) instead of NaN.
vae_location_dtype = np.dtype(
    [("x", "float64"), ("y", "float64"), ("z", "float64"), ("x_std", "float64"), ("y_std", "float64"),
     ("z_std", "float64"), ("fallback", "bool")]
)


def peaks_from_source(source, recording=None, training_chunks: int = 20, chunk_duration_s: float = 1.0,
                      seed: int = 0) -> np.ndarray | DetectorTrainingSpikes:
    """Training peaks of a pipeline peak source.

    ``SpikeRetriever``: every spike on its unit's main channel; ``PeakRetriever``: its peaks; a peak detector
    (detect-and-localize pipelines such as ``correct_motion``): the peaks it will find in ``training_chunks``
    random chunks of ``chunk_duration_s`` seconds of ``recording`` (seeded), as a
    :class:`~si_amortized.localization.training_peaks.DetectorTrainingSpikes` that :func:`prepare_localizer`
    detects and cuts in one read.
    """
    if isinstance(source, SpikeRetriever):
        spikes = source.spike_vector
        peaks = np.zeros(spikes.size, dtype=peak_dtype)
        peaks["sample_index"] = spikes["sample_index"]
        peaks["channel_index"] = source.main_channel_indices[spikes["unit_index"]]
        peaks["segment_index"] = spikes["segment_index"]
        return peaks
    if isinstance(source, PeakRetriever):
        return source._peaks
    if isinstance(source, PeakDetector) and recording is not None:
        return DetectorTrainingSpikes(source, training_chunks, chunk_duration_s, seed)
    raise TypeError(f"The VAE localizer cannot take its training spikes from a {type(source).__name__}")


#: Defaults of the node under a peak detector (``correct_motion`` and other detect-and-localize pipelines),
#: where the locations serve to follow drift rather than to place somas: each channel's error weighted by
#: its inverse variance in training and each location refined to its posterior mode. Over 9 drifting
#: recordings (generation, 90 s, 20 units, ``nonrigid_fast_and_accurate``; README, motion section) they took
#: the trained VAE's mean motion error from 0.70 / 1.54 / 2.20 um (zigzag / jumps / non-rigid) to 0.55 / 1.29 /
#: 1.26 (monopolar_triangulation 0.84 / 1.36 / 1.25); on analyzers (somas) the plain defaults are the better ones.
#: Learning the decay length (training only) then took it on 5 MEArec recordings of biophysical cells from 1.42 /
#: 2.47 / 2.95 to 1.14 / 2.61 / 2.08 um, and on the 9 generated ones to 0.54 / 1.19 / 1.29.
#: Settings given explicitly win.
DETECTOR_DEFAULTS = dict(likelihood="gaussian", learn_decay_length=True, refine_steps=5)

#: ``model``'s default: None (train on the parent's spikes), except under a peak detector (:func:`detector_model`).
DEFAULT_MODEL = "default"


def detector_model(recording, settings: dict):
    """The localizer the node uses under a peak detector when ``model`` is not given.

    The shipped localizer fitting the recording's layout (``model="auto"``: no training; on the motion benchmark's
    preset it was at or ahead of the recording-trained one on every scenario, level with ``dredge_fast``, at 44x
    monopolar's speed against 6-14x),
    unless ``settings`` ask for training (any model or training field other than ``seed`` and ``device``) or
    name feature settings the shipped localizer was not made with (e.g. another ``half_width_um``): then None,
    and the node trains on the detector's peaks in random chunks.

    Parameters
    ----------
    recording : BaseRecording
    settings : dict
        The localization settings given by the caller (not the detector defaults).

    Returns
    -------
    VaeLocalizer | None
    """
    training = {f.name for cls in (ModelConfig, TrainingConfig) for f in fields(cls)} - {"seed", "device"}
    settings = renamed_settings(settings, warn=False)
    if training & set(settings):
        return None
    shipped = resolve_auto(AUTO_NAME, recording)
    if shipped is not None:
        try:
            check_given_settings(shipped, settings)
        except ValueError:
            return None
    return shipped


def _other_methods_settings() -> set:
    """Keyword names of SpikeInterface's other localization methods (motion presets pass them along)."""
    import inspect

    from spikeinterface.sortingcomponents.peak_localization.method_list import peak_localization_methods

    names = set()
    for name, cls in peak_localization_methods.items():
        if name != LocalizeVae.name:
            names |= set(inspect.signature(cls.__init__).parameters)
    return names - {"self", "recording", "parents", "return_output", "kwargs"}


class LocalizeVae(PipelineNode):
    """Localize peaks with the amortized VAE localizer (Hurwitz et al. 2019).

    Unless ``model`` (or ``prepared``) is given, the localizer is trained (unsupervised) on a random
    subset of the peaks of the parent peak source when the node is built, before the pipeline runs: the
    sorting's spikes or the given peaks. Under a peak detector (``correct_motion``) the default is the shipped
    localizer when one fits the layout (:func:`detector_model`), else one trained on the peaks detected in
    random chunks. The pipeline then runs amortized inference chunk by chunk. Under a peak detector the
    defaults of ``likelihood``, ``learn_decay_length`` (training only) and ``refine_steps`` are ``"gaussian"``,
    True and 5 (:data:`DETECTOR_DEFAULTS`: the locations then serve to follow drift, which these settings do
    better; given values win).
    """

    name = "vae"
    need_waveforms = False
    params_doc = """
    model: VaeLocalizer | str | Path | None, default: None ("auto" under a peak detector)
        Trained localizer (or path to one) to reuse; "pretrained": the shipped one for this layout
        (no training); "auto": the shipped one when one fits this layout, else trained; None trains one on
        these peaks first. Under a peak detector (correct_motion) the default is the shipped localizer when
        one fits the layout and no training setting is given (si_amortized.localization.nodes.detector_model).
    half_width_um: float, default: 40.0
        Half-width of the square neighbourhood around the peak channel (virtual channels outside the array).
    amp_jitter_uv: float, default: 10.0
        Amplitude jitter: channels within this many uV of the largest become extra centred examples, averaged.
    refine_steps: int, default: 0
        Gauss-Newton steps from the encoder's location towards each example's posterior mode under the
        amplitude model and the recording's noise (si_amortized.localization.refine); 0: the encoder's.
    refine_amplitude_model: str | None, default: None
        The amplitude model the refinement fits ("exponential", "monopole", "dipole"); None: the model's own.
    epochs: int, default: 20
        Training epochs; see si_amortized.localization.TrainingConfig for the other training fields.
    device: str | None, default: None
        None: CPU, "auto": CUDA when available.
    prepared: PreparedLocalizer | None, default: None
        A localizer prepared for this recording (si_amortized.localization.prepare_localizer); replaces model
        and the settings.
    training_chunks: int, default: 20
        When the parent is a peak detector (correct_motion and other detect-and-localize pipelines): the
        localizer trains on the peaks detected in this many random chunks (seeded by seed).
    training_chunk_duration_s: float, default: 1.0
        Duration of those chunks.
    templates: np.ndarray | None, default: None
        (num_units, num_samples, num_channels) average waveforms (uV) of a sorting's units: with a
        ``SpikeRetriever(include_spikes_in_margin=True)`` parent, each spike whose window overlaps another
        spike is localized after the overlapping spikes' scaled templates are subtracted
        (si_amortized.localization.collisions).
    template_nbefore: int | None, default: None
        Template sample of the spike time.
    Settings of SpikeInterface's other localizers (radius_um, ... which motion presets pass along) are
    ignored with a warning.
    """

    def __init__(
        self,
        recording,
        parents,
        return_output=True,
        model=DEFAULT_MODEL,
        prepared: PreparedLocalizer | None = None,
        inference_batch_size: int = 4096,
        verbose: bool = False,
        training_chunks: int = 20,
        training_chunk_duration_s: float = 1.0,
        templates: np.ndarray | None = None,
        template_nbefore: int | None = None,
        **settings,
    ):
        PipelineNode.__init__(self, recording, return_output=return_output, parents=parents)
        if templates is not None:
            templates = np.asarray(templates, dtype="float32")
            if templates.ndim != 3 or templates.shape[2] != recording.get_num_channels() or template_nbefore is None:
                raise ValueError("templates must be (num_units, num_samples, num_channels) with template_nbefore")
        under_detector = isinstance(parents[0], PeakDetector)
        if prepared is None:
            settings = self._drop_other_methods_settings(settings)
            if isinstance(model, str) and model == DEFAULT_MODEL:
                model = detector_model(recording, settings) if under_detector else None
            if under_detector:  # motion estimation: the settings that follow drift best
                settings = {**DETECTOR_DEFAULTS, **settings}
            peaks = None
            model = resolve_auto(model, recording)
            if model is None:
                peaks = peaks_from_source(parents[0], recording, training_chunks, training_chunk_duration_s,
                                          seed=int(settings.get("seed", 0)))
            prepared = prepare_localizer(recording, peaks, model=model, verbose=verbose, **settings)
        self.prepared = prepared
        self.model = prepared.model
        self.config = prepared.config
        self.inference_batch_size = int(inference_batch_size)
        self.channel_locations = np.asarray(recording.get_channel_locations(), dtype="float64")[:, :2]
        self.sampling_frequency = recording.sampling_frequency
        self._model_sampling_frequency = model_sampling_frequency(self.model, self.sampling_frequency)
        self._margin = margin_samples(self.config, self.sampling_frequency)
        # a model that reads temporal components gets them straight from the traces (no waveforms made)
        self._temporal_basis = self.model.temporal_basis.cpu().numpy() if self.model.temporal_components else None
        # the refinement's likelihood and prior: the model's own (ModelConfig's defaults for models without them)
        trained, defaults = self.model.metadata.get("model_config", {}), ModelConfig()
        self._refine_settings = dict(
            noise_uv=prepared.noise_uv,
            noise_fraction=trained.get("amplitude_noise_fraction", defaults.amplitude_noise_fraction),
            prior_std_um=trained.get("prior_std_um", defaults.prior_std_um),
        )
        self.templates = templates
        self.template_nbefore = None if template_nbefore is None else int(template_nbefore)
        if templates is not None:
            # the spikes whose template reaches the samples a spike's examples are cut from (its time +- the
            # cut's margin); they must be inside the traces
            length, cut = templates.shape[1], self._margin
            self._overlap_range = (length - self.template_nbefore + cut - 1, self.template_nbefore + cut)
            self._templates_by_channel = np.ascontiguousarray(np.transpose(templates, (0, 2, 1)))
            self._margin = cut + max(self._overlap_range) + length
            self._main_channels = np.argmax(np.abs(templates).max(axis=1), axis=1)
        # under a detector, in the pipeline's own process, torch runs on one thread: the detector's work in the
        # same chunks competes with torch's idle threads (correct_motion, n_jobs=1, generator seed 10, 90 s:
        # the shipped localizer's time 0.79-1.14 -> 0.45-0.56 s per scenario, the trained one's 3.77-4.01 ->
        # 3.47-3.56 s, same locations); on an analyzer's spikes two threads stay faster (376 vs 387 ms)
        self._one_thread_in_process = under_detector
        load_kernels()  # compiled here, inherited by the workers the pipeline forks
        self._recording = recording
        self._parent_pid = os.getpid()
        self._worker_device = None
        self._dtype = vae_location_dtype
        # the prepared bundle travels to the workers: no retraining, no layout rebuilt there
        self._kwargs.update(dict(prepared=prepared, inference_batch_size=inference_batch_size, templates=templates,
                                 template_nbefore=template_nbefore))

    @staticmethod
    def _drop_other_methods_settings(settings: dict) -> dict:
        ours = setting_names()
        foreign = sorted(k for k in settings if k not in ours and k in _other_methods_settings())
        if foreign:
            warnings.warn(f"the 'vae' localizer ignores {foreign} (settings of SpikeInterface's other localizers)")
        return {k: v for k, v in settings.items() if k not in foreign}

    def get_dtype(self):
        return self._dtype

    def get_margin(self):
        return self._margin

    def _device(self) -> torch.device:
        """The inference device, resolved once per process."""
        if self._worker_device is None:
            device = resolve_device(self.prepared.device)
            if device.type == "cuda":
                try:
                    torch.zeros(1, device=device)
                except RuntimeError:  # e.g. forked worker after CUDA initialisation
                    warnings.warn("CUDA unavailable in this worker (fork after CUDA init?): using the CPU")
                    device = torch.device("cpu")
            self._worker_device = device
        return self._worker_device

    def compute(self, traces, peaks, *args):
        all_peaks = peaks
        if "in_margin" in peaks.dtype.names:  # a retriever giving the margin's spikes too (for subtraction)
            peaks = peaks[~peaks["in_margin"]]
        out = np.zeros(peaks.size, dtype=self._dtype)
        if peaks.size == 0:
            return out
        if os.getpid() != self._parent_pid:
            # a forked worker must not enter the thread pool inherited from the parent (it hangs):
            # re-set torch's pool once per worker; the workers are the parallelism
            torch.set_num_threads(1)
            self._parent_pid = os.getpid()
            self._worker_device = None
        traces = traces_in_uv(self._recording, traces)
        examples = self._examples(traces, peaks, all_peaks)
        one_thread = self._one_thread_in_process and self._device().type == "cpu" and torch.get_num_threads() > 1
        with torch.no_grad(), torch_threads(1 if one_thread else None):
            mean, var = predict_examples(self.model, examples, self.inference_batch_size, self._device())
            if self.config.refine_steps:
                mean = self._refined(examples, mean)
        locations, std = aggregate_locations(examples, mean, var, self.channel_locations)
        fallback = ~np.isfinite(locations).all(axis=1)
        locations[fallback, :2] = self.channel_locations[peaks["channel_index"][fallback]]
        locations[fallback, 2] = 0.0
        std[fallback] = self.config.half_width_um
        for i, name in enumerate("xyz"):
            out[name] = locations[:, i]
            out[f"{name}_std"] = std[:, i]
        out["fallback"] = fallback
        return out

    def _refined(self, examples, mean: np.ndarray) -> np.ndarray:
        """The encoder's means moved towards each example's posterior mode (:func:`refine_locations`)."""
        device = self.model.offsets.device  # where predict_examples put the model
        refined = refine_locations(
            self.model, *(torch.as_tensor(a, device=device) for a in (examples.amplitudes, examples.observed, mean)),
            self.config.refine_steps, amplitude_model=self.config.refine_amplitude_model, **self._refine_settings,
        )
        return refined.cpu().numpy()

    def _cut(self, traces, sample_index, channel_index, terms=None):
        return compute_examples(traces, sample_index, channel_index, self.prepared.neighbourhood,
                                self.prepared.candidates, self.config, self.sampling_frequency,
                                self._model_sampling_frequency, terms, self._temporal_basis)

    def _examples(self, traces, peaks, all_peaks):
        """Examples of ``peaks``; with templates, each minus the scaled templates of the spikes overlapping it."""
        if self.templates is None or "unit_index" not in all_peaks.dtype.names:
            return self._cut(traces, peaks["sample_index"], peaks["channel_index"])
        times = all_peaks["sample_index"].astype(np.int64)
        own = np.flatnonzero(~all_peaks["in_margin"]) if "in_margin" in all_peaks.dtype.names \
            else np.arange(times.size)  # own[k] is row k of `peaks`
        target, other = overlap_pairs(times[own], times, *self._overlap_range, target_index=own)
        if target.size == 0:
            return self._cut(traces, peaks["sample_index"], peaks["channel_index"])
        units = all_peaks["unit_index"]
        # the spikes in some pair, ascending, and each pair's position among them (np.unique's, without a sort)
        in_pair = np.zeros(times.size, dtype=bool)
        in_pair[other] = True
        overlapping = np.flatnonzero(in_pair)
        pair_spike = (np.cumsum(in_pair) - 1)[other]
        scales = template_scales(traces, times[overlapping], units[overlapping], self.templates,
                                 self.template_nbefore, self._main_channels)[pair_spike]
        terms = TemplateTerms.from_pairs(peaks.size, target, times[other], units[other], -scales, self.templates,
                                         self.template_nbefore, self._templates_by_channel)
        return self._cut(traces, peaks["sample_index"], peaks["channel_index"], terms)


def register_vae_localization_method() -> None:
    """Make ``"vae"`` a method of ``localize_peaks`` and of the ``spike_locations`` extension."""
    from spikeinterface.sortingcomponents.peak_localization import method_list

    method_list.peak_localization_methods[LocalizeVae.name] = LocalizeVae
    try:  # spike_locations imports the dtypes by method name
        from spikeinterface.postprocessing.unit_locations import dtype_localize_by_method

        dtype_localize_by_method.setdefault(LocalizeVae.name, vae_location_dtype.descr)
    except ImportError:  # pragma: no cover
        pass
