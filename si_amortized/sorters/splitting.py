"""Split clusters that hold two cells, using waveform shape and the refractory period as evidence.

Clustering on locations puts two cells whose spikes come from the same place into one cluster, even when their
waveforms differ. For each cluster, the multichannel waveforms of its peaks (on the channels around the
cluster's main channel, each channel projected onto a few temporal components) are split in two by a Gaussian
mixture. A split is kept only when the refractory period says the halves are two cells: a cell never fires
twice within a refractory period, so two halves of one cell have (nearly) no spike pairs closer than that,
while two independent cells coincide at chance, ``2 * n_a * n_b * window / duration`` times. A split along
amplitude or noise within one cell, which a waveform criterion alone accepts, fails that test.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from spikeinterface.core.node_pipeline import PeakRetriever, PipelineNode, run_node_pipeline

from .clustering import relabel_by_size


@dataclass(frozen=True, kw_only=True)
class SplitConfig:
    """Settings of :func:`split_clusters` (the location sorter's ``split_kwargs``).

    Parameters
    ----------
    radius_um : float, default: 50.0
        A cluster's waveforms are read on the channels within this distance of its main channel.
    max_channels : int, default: 16
        At most this many of them (the nearest).
    ms_before, ms_after : float, default: 0.5, 1.0
        Waveform window around each peak.
    n_temporal : int, default: 4
        Temporal principal components per channel (fitted on peak-channel waveforms of a random subset).
    n_components : int, default: 6
        Principal components of a cluster's features on which the two-component mixture is fitted.
    min_fraction : float, default: 0.1
        Each half holds at least this share of the cluster (and at least ``min_size`` peaks).
    min_size : int, default: 20
        Smallest half, in peaks.
    refractory_ms : float, default: 2.0
        Pairs of spikes of the two halves closer than this are coincidences a single cell cannot produce.
    dead_ms : float, default: 0.5
        Pairs closer than this are not counted (detection keeps one peak per ``exclude_sweep_ms`` nearby).
    min_expected : float, default: 4.0
        A split is judged only when two independent cells would coincide at least this many times; below,
        the refractory period says nothing and the cluster stays whole.
    min_ratio, max_ratio : float, default: 0.5, 3.0
        The halves are taken as two cells when their observed coincidences lie between these multiples of the
        expected ones. Far more than chance (a count that a Poisson variable of mean ``min_expected`` exceeds
        with probability < 0.002) means the halves fire together: one event detected twice, not two cells.
    max_depth : int, default: 2
        Halves are split again up to this depth (a cluster can become up to ``2 ** max_depth`` clusters).
    max_peaks_fit : int, default: 2000
        The mixture is fitted on at most this many peaks of a cluster (all are assigned).
    clip_sd : float, default: 3.0
        Before the mixture, each feature column of a cluster is clipped to its median +- this many robust
        standard deviations (1.4826 x the median absolute deviation), so that the few peaks another spike
        overlaps, whose waveforms lie far out, cannot take one of the two components. 0 turns it off.
    """

    radius_um: float = 50.0
    max_channels: int = 16
    ms_before: float = 0.5
    ms_after: float = 1.0
    n_temporal: int = 4
    n_components: int = 6
    min_fraction: float = 0.1
    min_size: int = 20
    refractory_ms: float = 2.0
    dead_ms: float = 0.5
    min_expected: float = 4.0
    min_ratio: float = 0.5
    max_ratio: float = 3.0
    max_depth: int = 2
    max_peaks_fit: int = 2000
    clip_sd: float = 3.0

    def __post_init__(self):
        check_refractory(self.dead_ms, self.refractory_ms)
        if not 0 < self.min_fraction < 0.5:
            raise ValueError(f"min_fraction must be in (0, 0.5), not {self.min_fraction!r}")
        for name in ("max_channels", "n_temporal", "n_components", "min_size", "max_peaks_fit"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, not {getattr(self, name)!r}")
        if self.max_depth < 0 or self.radius_um <= 0 or self.min_expected <= 0 or self.min_ratio <= 0:
            raise ValueError("max_depth must be >= 0 and radius_um, min_expected, min_ratio > 0")
        if self.max_ratio <= self.min_ratio:
            raise ValueError(f"max_ratio ({self.max_ratio}) must exceed min_ratio ({self.min_ratio})")
        if self.clip_sd < 0:
            raise ValueError(f"clip_sd must be >= 0 (0: no clipping), not {self.clip_sd!r}")


def check_refractory(dead_ms: float, refractory_ms: float) -> None:
    """Refuse a coincidence window that is empty or negative: need ``0 <= dead_ms < refractory_ms``."""
    if not 0 <= dead_ms < refractory_ms:
        raise ValueError(f"need 0 <= dead_ms < refractory_ms, got {dead_ms} and {refractory_ms}")


def refractory_samples(dead_ms: float, refractory_ms: float, sampling_frequency: float) -> tuple[int, int]:
    """The coincidence window ``(dead, window)`` in samples, for :func:`cross_coincidences`."""
    return (int(round(dead_ms * sampling_frequency / 1000.0)),
            int(round(refractory_ms * sampling_frequency / 1000.0)))


def cross_coincidences(times_a: np.ndarray, times_b: np.ndarray, dead: int, window: int) -> int:
    """Number of pairs ``(a, b)`` with ``dead <= |t_a - t_b| <= window`` (samples).

    Parameters
    ----------
    times_a, times_b : np.ndarray, shape (n_a,), (n_b,)
        Sorted spike times (samples; spikes of different segments kept apart by the caller).
    """
    times_b = np.asarray(times_b, dtype=np.int64)
    times_a = np.asarray(times_a, dtype=np.int64)
    within = np.searchsorted(times_b, times_a + window, side="right") - np.searchsorted(times_b, times_a - window)
    if dead > 0:
        within -= np.searchsorted(times_b, times_a + dead - 1, side="right") - np.searchsorted(
            times_b, times_a - dead + 1
        )
    return int(within.sum())


def expected_coincidences(n_a: int, n_b: int, dead: int, window: int, total_samples: int) -> float:
    """Pairs of two independent (Poisson) trains within ``dead <= |lag| <= window`` samples, on average."""
    return 2.0 * n_a * n_b * (window - dead + 1) / max(total_samples, 1)


def split_labels(
    features: np.ndarray, times: np.ndarray, labels: np.ndarray, config: SplitConfig, sampling_frequency: float,
    total_samples: int, seed: int | None = 0, relabel: bool = True,
) -> tuple[np.ndarray, list[dict]]:
    """Split each cluster whose halves the refractory period says are two cells.

    Parameters
    ----------
    features : np.ndarray, shape (num_peaks, num_features)
        Per-peak waveform features (each cluster's own channels: columns mean the same within a cluster).
    times : np.ndarray, shape (num_peaks,)
        Peak times in samples, offset so that segments never overlap.
    labels : np.ndarray, shape (num_peaks,)
        Cluster of each peak, -1 unassigned.
    config : SplitConfig
    sampling_frequency : float
    total_samples : int
        Duration of the recording in samples (all segments).
    seed : int | None, default: 0
    relabel : bool, default: True
        Number the clusters ``0..K-1`` by size afterwards. False: a split cluster keeps its label for one half
        and the other half gets the next label after every existing one.

    Returns
    -------
    labels : np.ndarray, shape (num_peaks,)
        New labels (-1 kept).
    decisions : list of dict
        One per judged split: ``cluster``, ``depth``, ``sizes``, ``observed`` and ``expected`` coincidences,
        ``split`` (bool).
    """
    dead, window = refractory_samples(config.dead_ms, config.refractory_ms, sampling_frequency)
    out = np.asarray(labels, dtype=np.int64).copy()
    decisions: list[dict] = []
    next_label = int(out.max()) + 1 if (out >= 0).any() else 0
    for cluster in np.unique(out[out >= 0]):
        pending = [(np.flatnonzero(out == cluster), 0)]
        while pending:
            members, depth = pending.pop()
            half = members.size // 2
            if expected_coincidences(half, members.size - half, dead, window, total_samples) < config.min_expected:
                continue  # no split of these peaks could be judged: skip the mixture
            halves = _two_halves(features[members], config, seed)
            if halves is None:
                continue
            a, b = members[halves == 0], members[halves == 1]
            ta, tb = np.sort(times[a]), np.sort(times[b])
            expected = expected_coincidences(a.size, b.size, dead, window, total_samples)
            observed = cross_coincidences(ta, tb, dead, window) if expected >= config.min_expected else 0
            split = expected >= config.min_expected and \
                config.min_ratio * expected <= observed <= config.max_ratio * expected
            decisions.append(dict(cluster=int(cluster), depth=depth, sizes=(int(a.size), int(b.size)),
                                  observed=int(observed), expected=float(expected), split=bool(split)))
            if not split:
                continue
            out[b] = next_label
            next_label += 1
            if depth + 1 < config.max_depth:
                pending += [(a, depth + 1), (b, depth + 1)]
    return (relabel_by_size(out, 1) if relabel else out), decisions


def clip_robust(features: np.ndarray, num_sd: float) -> np.ndarray:
    """Each column clipped to its median +- ``num_sd`` robust standard deviations (1.4826 x MAD).

    Parameters
    ----------
    features : np.ndarray, shape (num_rows, num_features)
    num_sd : float

    Returns
    -------
    np.ndarray, shape (num_rows, num_features)
        A new array; a column without spread (MAD 0) is left as it is.
    """
    median = np.median(features, axis=0)
    spread = 1.4826 * np.median(np.abs(features - median), axis=0)
    spread = np.where(spread > 0, spread, np.inf)
    return np.clip(features, median - num_sd * spread, median + num_sd * spread)


def _two_halves(features: np.ndarray, config: SplitConfig, seed: int | None) -> np.ndarray | None:
    """0/1 per row from a two-component Gaussian mixture on the rows' principal components; None if too small."""
    from sklearn.decomposition import PCA
    from sklearn.mixture import GaussianMixture

    n = features.shape[0]
    smallest = max(config.min_size, int(np.ceil(config.min_fraction * n)))
    if n < 2 * smallest:
        return None
    if config.clip_sd > 0:
        features = clip_robust(features, config.clip_sd)
    rng = np.random.default_rng(seed)
    fit = features if n <= config.max_peaks_fit else features[rng.choice(n, config.max_peaks_fit, replace=False)]
    n_components = int(min(config.n_components, fit.shape[1], fit.shape[0] - 1))
    pca = PCA(n_components=n_components, random_state=seed).fit(fit)
    gmm = GaussianMixture(2, covariance_type="full", n_init=2, random_state=seed, reg_covar=1e-3)
    gmm.fit(pca.transform(fit))
    halves = gmm.predict(pca.transform(features))
    sizes = np.bincount(halves, minlength=2)
    if sizes.min() < smallest:
        return None
    return halves.astype(np.int64)


class ClusterChannelProjection(PipelineNode):
    """Waveform of each peak on its cluster's channels, in noise units, projected onto temporal components.

    Parameters
    ----------
    recording : BaseRecording
    parents : list
        ``[PeakRetriever]`` of peaks with a ``cluster_index`` field (-1: none).
    cluster_channels : np.ndarray, shape (num_clusters, max_channels)
        Channel indices of each cluster, -1 padded.
    temporal_components : np.ndarray, shape (n_temporal, num_samples)
    noise_levels : np.ndarray, shape (num_channels,)
    nbefore : int
        Samples before the peak of the ``num_samples`` window.

    Returns (per chunk)
    -------------------
    np.ndarray, shape (num_peaks, max_channels * n_temporal)
        float32; zeros on padding channels and for peaks without a cluster.
    """

    def __init__(self, recording, parents, cluster_channels, temporal_components, noise_levels, nbefore,
                 return_output: bool = True):
        PipelineNode.__init__(self, recording, return_output=return_output, parents=parents)
        self.cluster_channels = np.asarray(cluster_channels, dtype=np.int64)
        self.temporal_components = np.asarray(temporal_components, dtype="float32")
        self.noise_levels = np.asarray(noise_levels, dtype="float32")
        self.nbefore = int(nbefore)
        self.nafter = self.temporal_components.shape[1] - self.nbefore
        self._kwargs.update(dict(cluster_channels=self.cluster_channels, temporal_components=self.temporal_components,
                                 noise_levels=self.noise_levels, nbefore=self.nbefore))

    def get_margin(self):
        return max(self.nbefore, self.nafter)

    def get_dtype(self):
        return np.dtype("float32")

    def compute(self, traces, peaks):
        num_channels = self.cluster_channels.shape[1]
        out = np.zeros((peaks.size, num_channels * self.temporal_components.shape[0]), dtype="float32")
        has = peaks["cluster_index"] >= 0
        if not has.any():
            return out
        chans = self.cluster_channels[peaks["cluster_index"][has]]  # (n, K)
        padding = chans < 0
        chans = np.where(padding, 0, chans)
        samples = peaks["sample_index"][has][:, None] + np.arange(-self.nbefore, self.nafter)[None, :]
        waveforms = traces[samples[:, :, None], chans[:, None, :]].astype("float32")  # (n, T, K)
        waveforms /= self.noise_levels[chans][:, None, :]
        projected = np.einsum("ntk,ct->nkc", waveforms, self.temporal_components)
        projected[padding] = 0.0
        out[has] = projected.reshape(projected.shape[0], -1)
        return out


def cluster_channels(recording, peaks: np.ndarray, labels: np.ndarray, config: SplitConfig) -> np.ndarray:
    """Channels of each cluster: the nearest ``max_channels`` within ``radius_um`` of its most frequent peak channel.

    Returns
    -------
    np.ndarray, shape (num_clusters, max_channels)
        Channel indices, -1 padded.
    """
    from spikeinterface.core.recording_tools import get_channel_distances

    distances = get_channel_distances(recording)
    num_clusters = int(labels.max()) + 1 if (labels >= 0).any() else 0
    out = np.full((num_clusters, config.max_channels), -1, dtype=np.int64)
    for cluster in range(num_clusters):
        main = np.bincount(peaks["channel_index"][labels == cluster]).argmax()
        order = np.argsort(distances[main], kind="stable")
        near = order[distances[main][order] <= config.radius_um][: config.max_channels]
        out[cluster, : near.size] = near
    return out


def split_clusters(recording, peaks: np.ndarray, labels: np.ndarray, noise_levels: np.ndarray, config: SplitConfig,
                   job_kwargs: dict, seed: int | None = 0,
                   subset: tuple[np.ndarray, np.ndarray] | None = None,
                   relabel: bool = True) -> tuple[np.ndarray, list[dict]]:
    """Split the clusters of ``labels`` that hold two cells (see the module docstring).

    Parameters
    ----------
    recording : BaseRecording
        The traces the peaks were detected on (filtered).
    peaks : np.ndarray
        SpikeInterface peaks (``sample_index``, ``channel_index``, ``segment_index``), time-sorted.
    labels : np.ndarray, shape (num_peaks,)
    noise_levels : np.ndarray, shape (num_channels,)
    config : SplitConfig
    job_kwargs : dict
    seed : int | None, default: 0
    subset : tuple of np.ndarray | None, default: None
        ``(peaks, waveforms)``: peak-channel waveforms ``(num_subset, num_samples)`` of a random subset of peaks,
        already read with this config's window (the sorter's PCA subset), to fit the temporal components on;
        None reads 5000 random peaks.
    relabel : bool, default: True
        See :func:`split_labels`.

    Returns
    -------
    labels : np.ndarray, shape (num_peaks,)
    decisions : list of dict
        See :func:`split_labels`.
    """
    from .features import peak_channel_waveforms, random_peak_subset

    labels = np.asarray(labels, dtype=np.int64)
    if not (labels >= 0).any():
        return labels, []
    fs = recording.sampling_frequency
    nbefore = int(round(config.ms_before * fs / 1000.0))
    if subset is None:
        chosen = random_peak_subset(peaks, 5000, seed)
        subset = chosen, peak_channel_waveforms(recording, chosen, ms_before=config.ms_before,
                                                ms_after=config.ms_after, job_kwargs=job_kwargs)
    chosen, waveforms = subset
    waveforms = waveforms / np.asarray(noise_levels, dtype="float32")[chosen["channel_index"]][:, None]
    # temporal components: right singular vectors of the (noise-unit) peak-channel waveforms
    _, _, vt = np.linalg.svd(waveforms - waveforms.mean(axis=0), full_matrices=False)
    temporal = vt[: config.n_temporal]

    labelled = np.zeros(peaks.size, dtype=peaks.dtype.descr + [("cluster_index", "int64")])
    for name in peaks.dtype.names:
        labelled[name] = peaks[name]
    labelled["cluster_index"] = labels
    source = PeakRetriever(recording, labelled)
    node = ClusterChannelProjection(recording, parents=[source], cluster_channels=cluster_channels(
        recording, peaks, labels, config), temporal_components=temporal, noise_levels=noise_levels, nbefore=nbefore)
    features = run_node_pipeline(recording, [source, node], dict(job_kwargs), job_name="split features")

    lengths = [recording.get_num_samples(s) for s in range(recording.get_num_segments())]
    offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]]).astype(np.int64)
    # a gap of a refractory window between segments, so no pair spans two of them
    gap = int(round(config.refractory_ms * fs / 1000.0)) + 1
    times = peaks["sample_index"].astype(np.int64) + offsets[peaks["segment_index"]] + gap * peaks["segment_index"]
    return split_labels(features, times, labels, config, fs, int(sum(lengths)), seed=seed, relabel=relabel)
