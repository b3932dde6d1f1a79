"""Peak-channel waveform features of the location sorter: slicing across chunks, whitened PCA."""

import numpy as np

from si_amortized.sorters import fit_whitened_pca, peak_channel_waveforms


def test_peak_channel_waveforms_slice_the_peak_channel_and_whiten():
    from spikeinterface.core import NumpyRecording
    from spikeinterface.core.node_pipeline import base_peak_dtype

    fs = 10_000.0
    rng = np.random.default_rng(0)
    traces = rng.normal(size=(20_000, 4)).astype("float32")
    recording = NumpyRecording([traces], fs)
    peaks = np.zeros(50, dtype=base_peak_dtype)
    peaks["sample_index"] = np.sort(rng.choice(np.arange(100, 19_900), 50, replace=False))
    peaks["channel_index"] = rng.integers(0, 4, 50)
    # chunks of 0.3 s: the waveforms of peaks near chunk borders come from the margins
    wf = peak_channel_waveforms(recording, peaks, ms_before=0.5, ms_after=1.0,
                                job_kwargs=dict(chunk_duration="0.3s", progress_bar=False))
    assert wf.shape == (50, 15)
    for i in (0, 17, 49):
        s, c = peaks["sample_index"][i], peaks["channel_index"][i]
        np.testing.assert_array_equal(wf[i], traces[s - 5 : s + 10, c])
    pca = fit_whitened_pca(wf, 3)
    projected = (wf - pca["pca_mean"]) @ pca["pca_components"].T / pca["pca_scale"]
    np.testing.assert_allclose(projected.var(axis=0, ddof=1), 1.0, rtol=1e-4)
