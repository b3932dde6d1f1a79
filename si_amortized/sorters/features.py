"""Per-spike clustering features of the location sorter: peak-channel waveforms and their whitened PCs.

The waveform of the detected peak channel is read chunk by chunk in SpikeInterface's node pipeline,
so memory stays bounded: a first pass over a random subset of peaks fits the PCA, the second pass
(shared with localization) projects every peak onto it.
"""

from __future__ import annotations

import numpy as np

from spikeinterface.core.node_pipeline import PeakRetriever, PipelineNode, run_node_pipeline


class PeakChannelWaveform(PipelineNode):
    """Waveform of each peak on its own (detected) channel, optionally projected onto PCs.

    Parameters
    ----------
    recording : BaseRecording
    parents : list
        ``[peak_source]``.
    ms_before, ms_after : float, default: 0.5, 1.0
        Window around the peak sample, in ms.
    pca_components : np.ndarray | None, default: None
        ``(num_pcs, num_samples)``: rows of a fitted PCA. None returns the raw waveforms.
    pca_mean : np.ndarray | None, default: None
        ``(num_samples,)`` mean subtracted before projecting.
    pca_scale : np.ndarray | None, default: None
        ``(num_pcs,)`` divisor of each projection (whitening: the sqrt of the explained variance).
    """

    def __init__(
        self,
        recording,
        parents,
        return_output: bool = True,
        ms_before: float = 0.5,
        ms_after: float = 1.0,
        pca_components: np.ndarray | None = None,
        pca_mean: np.ndarray | None = None,
        pca_scale: np.ndarray | None = None,
    ):
        PipelineNode.__init__(self, recording, return_output=return_output, parents=parents)
        fs = recording.sampling_frequency
        self.nbefore = int(round(ms_before * fs / 1000.0))
        self.nafter = int(round(ms_after * fs / 1000.0))
        self.pca_components = None if pca_components is None else np.asarray(pca_components, dtype="float32")
        self.pca_mean = None if pca_mean is None else np.asarray(pca_mean, dtype="float32")
        self.pca_scale = None if pca_scale is None else np.asarray(pca_scale, dtype="float32")
        self._kwargs.update(
            dict(ms_before=ms_before, ms_after=ms_after, pca_components=self.pca_components,
                 pca_mean=self.pca_mean, pca_scale=self.pca_scale)
        )

    def get_margin(self):
        return max(self.nbefore, self.nafter)

    def get_dtype(self):
        return np.dtype("float32")

    def compute(self, traces, peaks):
        offsets = np.arange(-self.nbefore, self.nafter)
        samples = peaks["sample_index"][:, None] + offsets[None, :]
        waveforms = traces[samples, peaks["channel_index"][:, None]].astype("float32")
        if self.pca_components is None:
            return waveforms
        projected = (waveforms - self.pca_mean) @ self.pca_components.T
        return projected / self.pca_scale


def peak_channel_waveforms(recording, peaks, *, ms_before=0.5, ms_after=1.0, job_kwargs=None) -> np.ndarray:
    """Peak-channel waveforms of ``peaks``.

    Returns
    -------
    np.ndarray
        ``(num_peaks, num_samples)``, float32.
    """
    source = PeakRetriever(recording, peaks)
    node = PeakChannelWaveform(recording, parents=[source], ms_before=ms_before, ms_after=ms_after)
    return run_node_pipeline(recording, [source, node], dict(job_kwargs or {}), job_name="peak waveforms")


def fit_whitened_pca(waveforms: np.ndarray, n_components: int, seed: int | None = 0) -> dict:
    """Fit a PCA on peak-channel waveforms; its components and whitening scales.

    Parameters
    ----------
    waveforms : np.ndarray
        ``(num_peaks, num_samples)``.
    n_components : int

    Returns
    -------
    dict
        ``pca_components`` ``(n_components, num_samples)``, ``pca_mean`` ``(num_samples,)``,
        ``pca_scale`` ``(n_components,)`` (sqrt of the explained variances, so projections have unit variance).
    """
    from sklearn.decomposition import PCA

    n_components = int(min(n_components, waveforms.shape[0], waveforms.shape[1]))
    pca = PCA(n_components=n_components, random_state=seed).fit(waveforms)
    scale = np.sqrt(np.maximum(pca.explained_variance_, 1e-12))
    return dict(pca_components=pca.components_, pca_mean=pca.mean_, pca_scale=scale)


def random_peak_subset(peaks: np.ndarray, n: int, seed: int | None) -> np.ndarray:
    """At most ``n`` peaks drawn without replacement, kept in time order."""
    if peaks.size <= n:
        return peaks
    rng = np.random.default_rng(seed)
    keep = np.sort(rng.choice(peaks.size, size=n, replace=False))
    return peaks[keep]


class LocalPeakAmplitude(PipelineNode):
    """Largest absolute value of the traces around each peak, over the channels near its channel.

    Parameters
    ----------
    recording : BaseRecording
    parents : list
        ``[peak_source]``.
    radius_um : float, default: 50.0
        Channels within this distance of the peak's channel are searched.
    ms_window : float, default: 0.2
        Samples within this many ms of the peak sample are searched.
    peak_sign : "neg" | "pos" | "both", default: "neg"
        ``"neg"``: the largest negative deflection; ``"pos"``: the largest positive one; ``"both"``: either.

    Returns (per chunk)
    -------------------
    np.ndarray, shape (num_peaks,)
        float32, >= 0, in the traces' units.
    """

    def __init__(self, recording, parents, return_output: bool = True, radius_um: float = 50.0,
                 ms_window: float = 0.2, peak_sign: str = "neg"):
        from spikeinterface.core.recording_tools import get_channel_distances

        PipelineNode.__init__(self, recording, return_output=return_output, parents=parents)
        if peak_sign not in ("neg", "pos", "both"):
            raise ValueError(f"peak_sign must be neg, pos or both, not {peak_sign!r}")
        self.half = max(int(round(ms_window * recording.sampling_frequency / 1000.0)), 0)
        self.neighbours = get_channel_distances(recording) <= radius_um
        self.peak_sign = peak_sign
        self._kwargs.update(dict(radius_um=radius_um, ms_window=ms_window, peak_sign=peak_sign))

    def get_margin(self):
        return self.half + 1

    def get_dtype(self):
        return np.dtype("float32")

    def compute(self, traces, peaks):
        offsets = np.arange(-self.half, self.half + 1)
        windows = traces[peaks["sample_index"][:, None] + offsets[None, :]]  # (num_peaks, window, channels)
        if self.peak_sign == "neg":
            extreme = -windows.min(axis=1)
        elif self.peak_sign == "pos":
            extreme = windows.max(axis=1)
        else:
            extreme = np.abs(windows).max(axis=1)
        extreme = np.where(self.neighbours[peaks["channel_index"]], extreme, -np.inf)
        return np.maximum(extreme.max(axis=1), 0.0).astype("float32")
