"""DARTsort's localizers as peers of the benchmark, on the same spikes as SpikeInterface's localizers.

DARTsort (``pip install dartsort``, or the ``peers`` extra: ``pip install 'si_amortized[peers]'``) is
never a dependency of this package: this module imports without it, and each function that needs it
imports it when called, raising an :class:`ImportError` that says how to install it.

Each spike is given as a SpikeInterface spike vector (``sample_index``, ``segment_index``) and a main
channel; its amplitude vector is read from the recording on the channels of a radius channel index
(:func:`radius_channel_index`, DARTsort's convention: one row per channel, padded with
``num_channels``), and handed to

- :func:`dartsort_point_source_locations`: ``dartsort.localize.localize_torch.localize_amplitude_vectors``
  (per-spike least-squares fit of a point source, or a dipole);
- :func:`dartsort_amortized_locations`: ``dartsort.transform.amortized_localization.AmortizedLocalization``
  (a variational autoencoder whose decoder is the point-source model), fitted on the spikes it localizes.

Axes: DARTsort's geometry is SpikeInterface's channel locations (first column x, second column the
depth, called ``z`` by DARTsort), and its ``y`` is the distance from the probe. Its outputs are mapped
to SpikeInterface's axes as x -> ``x``, ``z_abs`` -> ``y`` and ``y`` -> ``z``.
"""

from __future__ import annotations

from .._torch import torch_threads

import numpy as np

LOCATION_DTYPE = np.dtype([("x", "float64"), ("y", "float64"), ("z", "float64")])
INSTALL_HINT = "pip install dartsort (or pip install 'si_amortized[peers]')"
AMPLITUDE_KINDS = ("ptp", "peak")
POINT_SOURCE_MODELS = ("pointsource", "dipole", "com")
AMORTIZED_MODELS = ("pointsource", "dipole", "gaussian")
# channels at exactly radius_um are kept despite rounding (DARTsort's regularized geometry is offset by pitches)
_RADIUS_TOLERANCE_UM = 1e-6


def _short(err: BaseException, limit: int = 200) -> str:
    text = f"{type(err).__name__}: {err}".strip().splitlines()[0] if str(err) else type(err).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."


def dartsort_status() -> tuple[bool, str]:
    """Whether DARTsort can be imported.

    Returns
    -------
    available : bool
    detail : str
        DARTsort's version when ``available``, else the (shortened) reason ``import dartsort`` failed.
    """
    try:
        import dartsort
    except Exception as err:  # ImportError, or any error raised while importing it
        return False, _short(err)
    version = getattr(dartsort, "__version__", None)
    if version is None:
        try:
            from importlib.metadata import version as _version

            version = _version("dartsort")
        except Exception:
            version = "unknown"
    return True, str(version)


def _require_dartsort():
    """``import dartsort``, or an ImportError that says how to install it."""
    try:
        import dartsort
    except Exception as err:
        raise ImportError(
            f"DARTsort's localizers need the dartsort package, which could not be imported ({_short(err)}). "
            f"Install it with: {INSTALL_HINT}."
        ) from err
    return dartsort


# -- amplitude vectors -------------------------------------------------------------------------------


def radius_channel_index(channel_locations: np.ndarray, radius_um: float) -> np.ndarray:
    """Every channel within ``radius_um`` of each channel, in DARTsort's channel-index convention.

    Parameters
    ----------
    channel_locations : np.ndarray, shape (num_channels, 2)
    radius_um : float

    Returns
    -------
    np.ndarray, shape (num_channels, max_neighbours), int64
        Row ``c`` lists the neighbours of channel ``c`` (itself included) in increasing channel order,
        padded at the end with ``num_channels``; ``max_neighbours`` is the largest neighbourhood.
    """
    locations = np.asarray(channel_locations, dtype="float64")
    if locations.ndim != 2:
        raise ValueError(f"channel_locations must be (num_channels, ndim), got shape {locations.shape}")
    num_channels = len(locations)
    distances = np.sqrt(((locations[:, None, :] - locations[None, :, :]) ** 2).sum(axis=-1))
    neighbours = distances <= radius_um + _RADIUS_TOLERANCE_UM
    max_neighbours = int(neighbours.sum(axis=1).max())
    channel_index = np.full((num_channels, max_neighbours), num_channels, dtype="int64")
    for channel in range(num_channels):
        row = np.flatnonzero(neighbours[channel])
        channel_index[channel, : row.size] = row
    return channel_index


def _probe_plane_locations(recording) -> np.ndarray:
    locations = np.asarray(recording.get_channel_locations(), dtype="float64")
    if locations.ndim != 2 or locations.shape[1] < 2:
        raise ValueError(f"the recording's channel locations must be (num_channels, 2), got {locations.shape}")
    return locations[:, :2]


def _window_samples(recording, ms_before: float, ms_after: float) -> tuple[int, int]:
    fs = recording.get_sampling_frequency()
    nbefore = int(round(ms_before * fs / 1000.0))
    nafter = int(round(ms_after * fs / 1000.0))
    if nbefore < 0 or nafter < 0 or nbefore + nafter < 1:
        raise ValueError(f"the window ms_before={ms_before}, ms_after={ms_after} holds no sample")
    return nbefore, nafter


def _check_spikes(recording, spikes, main_channels) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    spikes = np.asarray(spikes)
    if spikes.dtype.names is None or "sample_index" not in spikes.dtype.names:
        raise ValueError("spikes must be a structured array with a 'sample_index' field (a spike vector)")
    samples = spikes["sample_index"].astype("int64")
    if "segment_index" in spikes.dtype.names:
        segments = spikes["segment_index"].astype("int64")
    else:
        segments = np.zeros(samples.size, dtype="int64")
    main_channels = np.asarray(main_channels).astype("int64").reshape(-1)
    if main_channels.size != samples.size:
        raise ValueError(f"main_channels has {main_channels.size} entries for {samples.size} spikes")
    num_channels = recording.get_num_channels()
    if main_channels.size and (main_channels.min() < 0 or main_channels.max() >= num_channels):
        raise ValueError(f"main_channels must lie in [0, {num_channels})")
    num_segments = recording.get_num_segments()
    if segments.size and (segments.min() < 0 or segments.max() >= num_segments):
        raise ValueError(f"segment_index must lie in [0, {num_segments})")
    for segment in np.unique(segments):
        in_segment = samples[segments == segment]
        num_samples = recording.get_num_samples(segment_index=int(segment))
        if in_segment.min() < 0 or in_segment.max() >= num_samples:
            raise ValueError(f"a spike's sample_index lies outside segment {segment} (0..{num_samples - 1})")
    return samples, segments, main_channels


def _iter_spike_windows(recording, spikes, main_channels, channel_index, nbefore, nafter, chunk_duration_s):
    """Yield ``(positions, windows)``: the spikes' positions in ``spikes`` and their (n, T, K) float32 windows.

    Traces are read one chunk of ``chunk_duration_s`` (plus the window's margins) at a time, zero-padded
    past the recording's borders; padded channel-index slots are NaN.
    """
    samples, segments, main_channels = _check_spikes(recording, spikes, main_channels)
    num_channels = recording.get_num_channels()
    scaled = bool(recording.has_scaleable_traces()) and np.issubdtype(recording.get_dtype(), np.integer)
    chunk_size = max(1, int(round(chunk_duration_s * recording.get_sampling_frequency())))
    offsets = np.arange(-nbefore, nafter)
    for segment in np.unique(segments):
        num_samples = recording.get_num_samples(segment_index=int(segment))
        in_segment = np.flatnonzero(segments == segment)
        chunk_ids = samples[in_segment] // chunk_size
        order = np.argsort(chunk_ids, kind="stable")
        in_segment, chunk_ids = in_segment[order], chunk_ids[order]
        bounds = np.flatnonzero(np.diff(chunk_ids)) + 1
        for positions in np.split(in_segment, bounds):
            start = int(samples[positions[0]] // chunk_size) * chunk_size
            end = min(start + chunk_size, num_samples)
            read_start, read_end = max(0, start - nbefore), min(num_samples, end + nafter)
            traces = recording.get_traces(
                segment_index=int(segment), start_frame=read_start, end_frame=read_end, return_in_uV=scaled
            )
            # buffer[i] is sample start - nbefore + i; one extra NaN channel for the padded slots
            buffer = np.zeros((end - start + nbefore + nafter, num_channels + 1), dtype="float32")
            buffer[:, num_channels] = np.nan
            first = read_start - (start - nbefore)
            buffer[first : first + (read_end - read_start), :num_channels] = traces
            rows = (samples[positions] - start + nbefore)[:, None] + offsets[None, :]  # (n, T)
            channels = channel_index[main_channels[positions]]  # (n, K)
            yield positions, buffer[rows[:, :, None], channels[:, None, :]]


def spike_waveforms(
    recording,
    spikes: np.ndarray,
    main_channels: np.ndarray,
    radius_um: float = 100.0,
    ms_before: float = 1.0,
    ms_after: float = 1.0,
    chunk_duration_s: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each spike's waveform on the channels within ``radius_um`` of its main channel.

    Parameters
    ----------
    recording : BaseRecording
        Its channel locations are the geometry; traces are read chunk by chunk, in microvolts when
        the recording is scaleable with integer traces.
    spikes : np.ndarray, shape (num_spikes,)
        Structured spike vector with ``sample_index`` and (optional) ``segment_index``.
    main_channels : np.ndarray, shape (num_spikes,)
        Channel index (0..num_channels-1) of each spike's main channel.
    radius_um : float, default: 100.0
        Radius of the channel index (:func:`radius_channel_index`).
    ms_before, ms_after : float, default: 1.0
        Window: ``nbefore`` samples before the spike's sample and ``nafter`` from it on.
    chunk_duration_s : float, default: 1.0
        Duration of the chunks the traces are read in.

    Returns
    -------
    waveforms : np.ndarray, shape (num_spikes, nbefore + nafter, max_neighbours), float32
        Zero past the recording's borders, NaN on padded channel slots.
    channel_index : np.ndarray, shape (num_channels, max_neighbours), int64
        Padded with ``num_channels``; spike ``i`` lives on ``channel_index[main_channels[i]]``.
    """
    channel_index = radius_channel_index(_probe_plane_locations(recording), radius_um)
    nbefore, nafter = _window_samples(recording, ms_before, ms_after)
    num_spikes = np.asarray(spikes).size
    waveforms = np.full((num_spikes, nbefore + nafter, channel_index.shape[1]), np.nan, dtype="float32")
    for positions, windows in _iter_spike_windows(
        recording, spikes, main_channels, channel_index, nbefore, nafter, chunk_duration_s
    ):
        waveforms[positions] = windows
    return waveforms, channel_index


def spike_amplitude_vectors(
    recording,
    spikes: np.ndarray,
    main_channels: np.ndarray,
    radius_um: float = 100.0,
    ms_before: float = 1.0,
    ms_after: float = 1.0,
    kind: str = "ptp",
    chunk_duration_s: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Each spike's amplitude on the channels within ``radius_um`` of its main channel.

    Parameters
    ----------
    recording : BaseRecording
        Its channel locations are the geometry; traces are read chunk by chunk, in microvolts when
        the recording is scaleable with integer traces.
    spikes : np.ndarray, shape (num_spikes,)
        Structured spike vector with ``sample_index`` and (optional) ``segment_index``.
    main_channels : np.ndarray, shape (num_spikes,)
        Channel index (0..num_channels-1) of each spike's main channel.
    radius_um : float, default: 100.0
        Radius of the channel index (:func:`radius_channel_index`).
    ms_before, ms_after : float, default: 1.0
        Window: ``nbefore`` samples before the spike's sample and ``nafter`` from it on
        (zero-padded past the recording's borders).
    kind : "ptp" | "peak", default: "ptp"
        Peak-to-peak over the window, or the negative peak (minus the minimum).
    chunk_duration_s : float, default: 1.0
        Duration of the chunks the traces are read in.

    Returns
    -------
    amplitudes : np.ndarray, shape (num_spikes, max_neighbours), float64
        NaN on padded channel slots.
    channel_index : np.ndarray, shape (num_channels, max_neighbours), int64
        Padded with ``num_channels``; spike ``i`` lives on ``channel_index[main_channels[i]]``.
    """
    if kind not in AMPLITUDE_KINDS:
        raise ValueError(f"kind must be one of {AMPLITUDE_KINDS}, not {kind!r}")
    channel_index = radius_channel_index(_probe_plane_locations(recording), radius_um)
    nbefore, nafter = _window_samples(recording, ms_before, ms_after)
    num_spikes = np.asarray(spikes).size
    amplitudes = np.full((num_spikes, channel_index.shape[1]), np.nan, dtype="float64")
    for positions, windows in _iter_spike_windows(
        recording, spikes, main_channels, channel_index, nbefore, nafter, chunk_duration_s
    ):
        minimum = windows.min(axis=1).astype("float64")
        if kind == "ptp":
            amplitudes[positions] = windows.max(axis=1).astype("float64") - minimum
        else:
            amplitudes[positions] = -minimum
    return amplitudes, channel_index


def _amplitudes_for(recording, spikes, main_channels, amplitude_vectors, **kwargs):
    if amplitude_vectors is None:
        return spike_amplitude_vectors(recording, spikes, main_channels, **kwargs)
    amplitudes, channel_index = amplitude_vectors
    amplitudes = np.asarray(amplitudes, dtype="float64")
    channel_index = np.asarray(channel_index, dtype="int64")
    num_spikes = np.asarray(spikes).size
    if amplitudes.shape != (num_spikes, channel_index.shape[1]):
        raise ValueError(
            f"amplitude_vectors: amplitudes {amplitudes.shape} do not match {num_spikes} spikes "
            f"on a channel index of shape {channel_index.shape}"
        )
    if channel_index.shape[0] != recording.get_num_channels():
        raise ValueError(f"amplitude_vectors: channel index has {channel_index.shape[0]} rows")
    return amplitudes, channel_index


def _to_locations(x, y_in_plane, z_from_plane) -> np.ndarray:
    locations = np.zeros(len(x), dtype=LOCATION_DTYPE)
    locations["x"] = x
    locations["y"] = y_in_plane
    locations["z"] = z_from_plane
    return locations


# -- DARTsort's localizers ---------------------------------------------------------------------------


def dartsort_point_source_locations(
    recording,
    spikes: np.ndarray,
    main_channels: np.ndarray,
    model: str = "pointsource",
    radius_um: float = 100.0,
    ms_before: float = 1.0,
    ms_after: float = 1.0,
    amplitude_kind: str = "ptp",
    chunk_duration_s: float = 1.0,
    batch_size: int = 8192,
    amplitude_vectors: tuple[np.ndarray, np.ndarray] | None = None,
    geometry_offset_um: float = 1e5,
    num_threads: int | None = 1,
) -> np.ndarray:
    """DARTsort's per-spike point-source (or dipole, or centre-of-mass) localization.

    Calls ``dartsort.localize.localize_torch.localize_amplitude_vectors`` on the spikes' amplitude
    vectors (:func:`spike_amplitude_vectors`), on CPU, in batches of ``batch_size`` spikes.

    Parameters
    ----------
    recording : BaseRecording
    spikes : np.ndarray, shape (num_spikes,)
        Structured spike vector with ``sample_index`` and (optional) ``segment_index``.
    main_channels : np.ndarray, shape (num_spikes,)
        Each spike's main channel (0..num_channels-1).
    model : "pointsource" | "dipole" | "com", default: "pointsource"
        DARTsort's ``model``; ``"com"`` (centre of mass) has no distance from the probe (``z`` is NaN).
    radius_um : float, default: 100.0
        Radius of the channel index the amplitudes are read on, and DARTsort's ``radius``.
    ms_before, ms_after : float, default: 1.0
    amplitude_kind : "ptp" | "peak", default: "ptp"
        See :func:`spike_amplitude_vectors`.
    chunk_duration_s : float, default: 1.0
    batch_size : int, default: 8192
        Spikes per call of ``localize_amplitude_vectors`` (bounds memory).
    amplitude_vectors : tuple | None, default: None
        ``(amplitudes, channel_index)`` already returned by :func:`spike_amplitude_vectors` for these
        spikes (then the recording is not read again).
    geometry_offset_um : float, default: 1e5
        DARTsort's least-squares objective counts the padded slots of a channel index as channels of
        zero amplitude at the geometry's origin (0, 0), which pushes sources away from it when the
        origin lies on or near the probe. The geometry is handed to DARTsort translated so that its
        smallest coordinates are ``geometry_offset_um`` (that phantom channel then lies far from every
        spike), and the locations are translated back. 0 hands it the geometry unchanged.
    num_threads : int | None, default: 1
        Torch's CPU threads during the call (restored after); None leaves torch's setting. One thread
        is many times faster than torch's default (all cores) when the cores are shared with other jobs.

    Returns
    -------
    np.ndarray, shape (num_spikes,)
        Fields ``x``, ``y`` (probe plane, SpikeInterface's axes) and ``z`` (distance from the plane), float64:
        DARTsort's ``x``, ``z_abs`` and ``y``.

    Raises
    ------
    ImportError
        When dartsort cannot be imported.
    """
    _require_dartsort()
    if model not in POINT_SOURCE_MODELS:
        raise ValueError(f"model must be one of {POINT_SOURCE_MODELS}, not {model!r}")
    import torch
    from dartsort.localize.localize_torch import localize_amplitude_vectors

    amplitudes, channel_index = _amplitudes_for(
        recording, spikes, main_channels, amplitude_vectors, radius_um=radius_um, ms_before=ms_before,
        ms_after=ms_after, kind=amplitude_kind, chunk_duration_s=chunk_duration_s,
    )  # fmt: skip
    main_channels = np.asarray(main_channels).astype("int64").reshape(-1)
    geom = _probe_plane_locations(recording)
    shift = np.zeros(2) if not geometry_offset_um else float(geometry_offset_um) - geom.min(axis=0)
    geom = geom + shift
    num_spikes = len(amplitudes)
    x = np.full(num_spikes, np.nan)
    y = np.full(num_spikes, np.nan)
    z = np.full(num_spikes, np.nan)
    for start in range(0, num_spikes, max(1, int(batch_size))):
        batch = slice(start, start + max(1, int(batch_size)))
        with torch.no_grad(), torch_threads(num_threads):
            result = localize_amplitude_vectors(
                amplitudes[batch],
                geom,
                main_channels[batch],
                channel_index=channel_index,
                radius=radius_um,
                model=model,
            )
        result = {k: np.asarray(torch.as_tensor(v).numpy(force=True), dtype="float64") for k, v in result.items()}
        x[batch] = result["x"] - shift[0]
        y[batch] = result["z_abs"] - shift[1]
        if "y" in result:
            z[batch] = result["y"]
    return _to_locations(x, y, z)


def dartsort_amortized_locations(
    recording,
    spikes: np.ndarray,
    main_channels: np.ndarray,
    localization_model: str = "pointsource",
    radius_um: float = 100.0,
    seed: int = 0,
    n_epochs: int = 50,
    ms_before: float = 1.0,
    ms_after: float = 1.0,
    amplitude_kind: str = "ptp",
    chunk_duration_s: float = 1.0,
    batch_size: int = 256,
    learning_rate: float = 3e-3,
    amplitude_vectors: tuple[np.ndarray, np.ndarray] | None = None,
    num_threads: int | None = 1,
    **localizer_kwargs,
) -> np.ndarray:
    """DARTsort's amortized (neural-network) localization, fitted on the spikes it localizes.

    Builds ``dartsort.transform.amortized_localization.AmortizedLocalization`` on the recording's
    geometry and a :func:`radius_channel_index` of ``radius_um``, fits it (CPU) on the spikes'
    amplitude vectors (:func:`spike_amplitude_vectors`: the localizer takes amplitude vectors in place
    of waveforms, so it sees the same amplitudes as :func:`dartsort_point_source_locations`) and
    localizes them with ``transform``. Training stops early on a held-out 30 % (DARTsort's defaults:
    patience 10 epochs, at least 10 epochs).

    Parameters
    ----------
    recording : BaseRecording
    spikes : np.ndarray, shape (num_spikes,)
        Structured spike vector with ``sample_index`` and (optional) ``segment_index``.
    main_channels : np.ndarray, shape (num_spikes,)
        Each spike's main channel (0..num_channels-1).
    localization_model : "pointsource" | "dipole" | "gaussian", default: "pointsource"
        The decoder's amplitude model. ``"gaussian"`` needs ``decay_power=2`` in ``localizer_kwargs``.
    radius_um : float, default: 100.0
        Radius of the channel index the amplitudes are read on, and the localizer's ``radius``.
    seed : int, default: 0
        The localizer's ``random_seed`` (initialization, batches, validation split).
    n_epochs : int, default: 50
        Most training epochs (one epoch: every training spike once, at most 50 000).
    ms_before, ms_after : float, default: 1.0
    amplitude_kind : "ptp" | "peak", default: "ptp"
        See :func:`spike_amplitude_vectors`.
    chunk_duration_s : float, default: 1.0
    batch_size : int, default: 256
    learning_rate : float, default: 3e-3
    amplitude_vectors : tuple | None, default: None
        ``(amplitudes, channel_index)`` already returned by :func:`spike_amplitude_vectors` for these
        spikes with this ``radius_um`` (then the recording is not read again).
    num_threads : int | None, default: 1
        Torch's CPU threads during the call (restored after); None leaves torch's setting. One thread
        is many times faster than torch's default (all cores) when the cores are shared with other jobs.
    **localizer_kwargs
        Other keyword arguments of ``AmortizedLocalization`` (``hidden_dims``, ``prior_std``,
        ``convergence_patience``, ``encoder_kind``, ...).

    Returns
    -------
    np.ndarray, shape (num_spikes,)
        Fields ``x``, ``y`` (probe plane, SpikeInterface's axes) and ``z`` (distance from the plane), float64:
        the localizer's output columns x, z_abs and y.

    Raises
    ------
    ImportError
        When dartsort cannot be imported.
    """
    _require_dartsort()
    if localization_model not in AMORTIZED_MODELS:
        raise ValueError(f"localization_model must be one of {AMORTIZED_MODELS}, not {localization_model!r}")
    import torch
    from dartsort.transform.amortized_localization import AmortizedLocalization
    from dartsort.util.internal_config import ComputationConfig, WaveformConfig

    amplitudes, channel_index = _amplitudes_for(
        recording, spikes, main_channels, amplitude_vectors, radius_um=radius_um, ms_before=ms_before,
        ms_after=ms_after, kind=amplitude_kind, chunk_duration_s=chunk_duration_s,
    )  # fmt: skip
    num_spikes = len(amplitudes)
    if num_spikes == 0:
        return np.zeros(0, dtype=LOCATION_DTYPE)
    main_channels = np.asarray(main_channels).astype("int64").reshape(-1)
    geom = _probe_plane_locations(recording)
    fs = float(recording.get_sampling_frequency())

    localizer = AmortizedLocalization(
        torch.from_numpy(channel_index),
        torch.from_numpy(geom),
        waveform_cfg=WaveformConfig(ms_before=ms_before, ms_after=ms_after),
        sampling_frequency=fs,
        radius=radius_um,
        amplitude_kind=amplitude_kind,
        localization_model=localization_model,
        n_epochs=int(n_epochs),
        batch_size=int(batch_size),
        learning_rate=learning_rate,
        random_seed=int(seed),
        **localizer_kwargs,
    )
    # the localizer reads its own (regularized) neighbourhoods out of ours: every real channel of theirs
    # must be one of ours, else it would be seen as a silent channel
    relative_index = getattr(localizer, "relative_index", None)
    model_channel_index = getattr(localizer, "model_channel_index", None)
    if relative_index is not None and model_channel_index is not None:
        missing = (model_channel_index < len(geom)) & (relative_index >= channel_index.shape[1])
        if bool(missing.any()):
            raise ValueError(
                "DARTsort's amortized localizer uses channels outside the channel index of radius_um="
                f"{radius_um} (irregular geometry?); amplitude_vectors must come from the same radius_um"
            )
    # amplitude vectors (n, K) stand for waveforms; padded slots are masked by the localizer, zero them
    inputs = torch.from_numpy(np.nan_to_num(amplitudes, nan=0.0).astype("float32"))
    channels = torch.from_numpy(main_channels)
    with torch_threads(num_threads):
        if localizer.needs_fit():
            localizer.fit(recording, inputs, computation_cfg=ComputationConfig(device="cpu"), channels=channels)
        localizer.eval()
        with torch.no_grad():
            (locs,) = localizer.transform(inputs, channels=channels).values()
    locs = np.asarray(locs.numpy(force=True), dtype="float64")  # columns x, y (from the probe), z_abs
    return _to_locations(locs[:, 0], locs[:, 2], locs[:, 1])
