"""SpikeInterface recordings and peaks -> localizer examples; training a localizer on a recording."""

from __future__ import annotations

import functools

import numpy as np

from .config import FeatureConfig, ModelConfig, TrainingConfig
from .fit import build_localizer, train_localizer
from .model import VaeLocalizer
from .neighbourhood import (
    Neighbourhood,
    SpikeExamples,
    channel_neighbours_mask,
    compute_examples,
    margin_samples,
    neighbourhood_from_config,
    resampling_supported,
    waveform_samples,
)


def traces_in_uv(recording, traces: np.ndarray) -> np.ndarray:
    """Float32 traces in microvolts (integer traces are scaled with the recording's gains and offsets)."""
    if np.issubdtype(traces.dtype, np.integer) and recording.has_scaleable_traces():
        gains = recording.get_channel_gains().astype("float32")
        offsets = recording.get_channel_offsets().astype("float32")
        scaled = np.empty(traces.shape, dtype="float32")  # one pass and one array, not three
        np.multiply(traces, gains[None, :], out=scaled, casting="unsafe")
        if offsets.any():
            scaled += offsets[None, :]
        return scaled
    return traces.astype("float32", copy=False)


def channel_groups(recording) -> np.ndarray | None:
    """The shank (SpikeInterface ``group``) of each channel when the recording has several, else None."""
    groups = recording.get_property("group")
    if groups is None or len(np.unique(groups)) < 2:
        return None
    return np.asarray(groups)


def peak_candidates(recording, config: FeatureConfig) -> np.ndarray:
    """Peak-channel search mask, shape (num_channels, num_channels): same shank, within ``config.peak_radius_um``.

    The one of :func:`recording_layout` (built once per geometry, read-only).
    """
    return recording_layout(recording, config)[1]


def recording_layout(recording, config: FeatureConfig):
    """The recording's neighbourhoods and peak-channel candidates for ``config`` (never across shanks).

    Built once per process for each geometry, shank labelling and config (a run of ``vae_locations`` with the
    shipped localizers asked for it three times: each shipped file's check, then the preparation); the
    arrays are read-only.

    Returns
    -------
    neighbourhood : Neighbourhood
    candidates : np.ndarray, shape (num_channels, num_channels)
    """
    locations = np.ascontiguousarray(recording.get_channel_locations(), dtype="float64")
    groups = channel_groups(recording)
    return _layout(locations.shape, locations.tobytes(), None if groups is None else tuple(groups.tolist()), config)


@functools.lru_cache(maxsize=16)
def _layout(shape: tuple, location_bytes: bytes, groups: tuple | None, config: FeatureConfig):
    locations = np.frombuffer(location_bytes, dtype="float64").reshape(shape)
    groups = None if groups is None else np.asarray(groups)
    neighbourhood = neighbourhood_from_config(locations, config, groups=groups)
    candidates = channel_neighbours_mask(locations, config.peak_radius_um, groups=groups)
    for array in (neighbourhood.offsets, neighbourhood.channel_table, neighbourhood.free_axes, candidates):
        array.flags.writeable = False
    return neighbourhood, candidates


def examples_from_recording(
    recording,
    peaks: np.ndarray,
    config: FeatureConfig,
    block_duration_s: float = 2.0,
    neighbourhood: Neighbourhood | None = None,
) -> SpikeExamples:
    """Cut the examples of ``peaks`` from a recording, reading the traces block by block.

    Parameters
    ----------
    recording : BaseRecording
    peaks : np.ndarray
        Structured array with ``sample_index``, ``channel_index`` and ``segment_index``.
    config : FeatureConfig
    block_duration_s : float, default: 2.0
        Duration of the blocks of traces read at once.
    neighbourhood : Neighbourhood | None, default: None
        The recording's neighbourhoods for ``config`` when already built.

    Returns
    -------
    SpikeExamples
        ``spike_index`` refers to the order of ``peaks``.
    """
    fs = recording.sampling_frequency
    layout, candidates = recording_layout(recording, config)
    neighbourhood = layout if neighbourhood is None else neighbourhood
    margin = margin_samples(config, fs)
    block = max(int(block_duration_s * fs), 1)
    order = np.lexsort((peaks["sample_index"], peaks["segment_index"]))
    parts, part_index = [], []
    for segment_index in range(recording.get_num_segments()):
        seg_order = order[peaks["segment_index"][order] == segment_index]
        if seg_order.size == 0:
            continue
        num_samples = recording.get_num_samples(segment_index)
        samples = peaks["sample_index"][seg_order].astype(np.int64)
        block_id = samples // block
        for b in np.unique(block_id):
            sel = seg_order[block_id == b]
            s = peaks["sample_index"][sel].astype(np.int64)
            start, stop = int(s.min()) - margin, int(s.max()) + margin + 1
            lo, hi = max(start, 0), min(stop, num_samples)
            traces = traces_in_uv(recording, recording.get_traces(start_frame=lo, end_frame=hi, segment_index=segment_index))
            traces = np.pad(traces, ((lo - start, stop - hi), (0, 0)))
            parts.append(
                compute_examples(
                    traces, s - start, peaks["channel_index"][sel], neighbourhood, candidates, config, fs
                )
            )
            part_index.append(sel)
    if not parts:
        k = neighbourhood.num_slots
        t = sum(waveform_samples(config, fs))
        return SpikeExamples(
            np.zeros((0, k, t), "float32"), np.zeros((0, k), "float32"), np.zeros((0, k), "float32"),
            np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, bool),
        )
    merged = SpikeExamples.concatenate(parts)
    # map back to the order of `peaks`
    sorted_index = np.concatenate(part_index)
    valid = np.zeros(peaks.size, dtype=bool)
    valid[sorted_index] = merged.valid
    merged.spike_index = sorted_index[merged.spike_index]
    merged.valid = valid
    return merged


def check_layout(model: VaeLocalizer, recording, config: FeatureConfig, neighbourhood: Neighbourhood | None = None) -> None:
    """Raise a ValueError when ``recording`` does not give the neighbourhood ``model`` was trained on.

    ``neighbourhood`` is the recording's for ``config`` when already built.
    """
    if neighbourhood is None:
        neighbourhood = recording_layout(recording, config)[0]
    trained = model.offsets.cpu().numpy()
    model_fs = model_sampling_frequency(model, recording.sampling_frequency)
    num_samples = sum(waveform_samples(config, model_fs))
    if trained.shape != neighbourhood.offsets.shape or not np.allclose(
        trained, neighbourhood.offsets, atol=config.offset_tolerance_um
    ):
        raise ValueError(
            f"This VAE localizer was trained on a neighbourhood of {trained.shape[0]} channel slots, but this "
            f"recording's probe gives {neighbourhood.num_slots} slots (or other offsets) with "
            f"half_width_um={config.half_width_um}, shape={config.shape!r}: the probe layout differs. "
            "Train a new model on this recording (model=None)."
        )
    if not np.array_equal(model.free_axes.cpu().numpy(), neighbourhood.free_axes.astype("float32")):
        raise ValueError("This VAE localizer was trained on a probe of another dimensionality (1D vs 2D layout).")
    if num_samples != model.num_samples:
        raise ValueError(
            f"This VAE localizer expects {model.num_samples}-sample waveforms but this recording gives "
            f"{num_samples} (sampling frequency {recording.sampling_frequency} Hz): retrain or resample."
        )
    if not resampling_supported(recording.sampling_frequency, model_fs):
        raise ValueError(
            f"This VAE localizer was trained at {model_fs:g} Hz; this recording is sampled at "
            f"{recording.sampling_frequency:g} Hz (waveforms are resampled within a factor of 2 only): "
            "resample the recording or train a localizer on it (model=None)."
        )


def model_sampling_frequency(model: VaeLocalizer, default: float) -> float:
    """Sampling frequency (Hz) of the waveforms ``model`` was trained on; ``default`` when not recorded.

    Recordings of another rate are cut at their own rate and resampled onto the model's time grid
    (see :func:`~si_amortized.localization.neighbourhood.resampling_matrix`).
    """
    fs = model.metadata.get("sampling_frequency")
    return float(default if fs is None else fs)


def recording_noise_uv(recording, seed: int = 0) -> float:
    """Median over channels of the traces' noise standard deviation (MAD), in microvolts.

    Uses SpikeInterface's ``get_noise_levels`` (random chunks, seeded), so that the value is the one
    SpikeInterface's own detection sees.
    """
    from spikeinterface.core import get_noise_levels

    scaled = recording.has_scaleable_traces() and not np.issubdtype(recording.get_dtype(), np.floating)
    levels = get_noise_levels(recording, return_in_uV=scaled, random_slices_kwargs=dict(seed=seed))
    levels = np.asarray(levels, dtype="float64")
    levels = levels[np.isfinite(levels) & (levels > 0)]
    if levels.size == 0:
        raise ValueError("The recording's noise level is zero or undefined on every channel")
    return float(np.median(levels))


def training_subset(num_peaks: int, max_spikes: int, seed: int) -> np.ndarray:
    """Indices (sorted, without replacement) of a random subset of at most ``max_spikes`` of ``num_peaks`` peaks."""
    if num_peaks <= max_spikes:
        return np.arange(num_peaks)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(num_peaks, size=max_spikes, replace=False))


def fit_localizer_on_recording(
    recording,
    peaks: np.ndarray,
    feature_config: FeatureConfig | None = None,
    model_config: ModelConfig | None = None,
    training_config: TrainingConfig | None = None,
    verbose: bool = False,
    neighbourhood: Neighbourhood | None = None,
    examples: SpikeExamples | None = None,
) -> VaeLocalizer:
    """Train a VAE localizer on (a random subset of) the spikes of a recording.

    Parameters
    ----------
    recording : BaseRecording
    peaks : np.ndarray
        Structured array with ``sample_index``, ``channel_index``, ``segment_index`` (detected peaks
        or a sorting's spike vector with the units' main channels).
    feature_config, model_config, training_config : configs, default: defaults
    verbose : bool, default: False
    neighbourhood : Neighbourhood | None, default: None
        The recording's neighbourhoods for ``feature_config`` when already built.
    examples : SpikeExamples | None, default: None
        The examples of ``peaks`` (``spike_index`` into ``peaks``) when already cut; else they are read.

    Returns
    -------
    VaeLocalizer
        Trained, on the CPU, in eval mode; ``model.metadata["history"]`` holds the loss per epoch.
    """
    feature_config = feature_config or FeatureConfig()
    model_config = model_config or ModelConfig()
    training_config = training_config or TrainingConfig()
    fs = recording.sampling_frequency
    if neighbourhood is None:
        neighbourhood = recording_layout(recording, feature_config)[0]
    keep = training_subset(peaks.size, training_config.max_spikes, training_config.seed)
    if examples is None:
        examples = examples_from_recording(recording, peaks[keep], feature_config, neighbourhood=neighbourhood)
    elif keep.size < peaks.size:
        examples = examples.select(np.isin(examples.spike_index, keep))
    model = build_localizer(neighbourhood, sum(waveform_samples(feature_config, fs)), feature_config, model_config, fs)
    noise_uv = None
    if model_config.likelihood == "gaussian":
        noise_uv = recording_noise_uv(recording, seed=training_config.seed)
        model.metadata["noise_uv"] = noise_uv
    history = train_localizer(model, examples, model_config, training_config, verbose=verbose, noise_uv=noise_uv)
    model.metadata["history"] = [float(h) for h in history]
    model.metadata["num_training_spikes"] = int(keep.size)
    model.metadata["num_training_examples"] = int(examples.waveforms.shape[0])
    return model
