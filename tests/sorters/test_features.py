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


def test_local_peak_amplitude_matches_a_naive_reference_across_chunks():
    from probeinterface import generate_linear_probe
    from spikeinterface.core import NumpyRecording
    from spikeinterface.core.node_pipeline import PeakRetriever, base_peak_dtype, run_node_pipeline

    from si_amortized.sorters.features import LocalPeakAmplitude

    fs = 10_000.0
    rng = np.random.default_rng(1)
    traces = rng.normal(size=(20_000, 8)).astype("float32")
    recording = NumpyRecording([traces], fs)
    probe = generate_linear_probe(num_elec=8, ypitch=20.0)
    probe.set_device_channel_indices(np.arange(8))
    recording.set_probe(probe)
    positions = recording.get_channel_locations()
    peaks = np.zeros(60, dtype=base_peak_dtype)
    peaks["sample_index"] = np.sort(rng.choice(np.arange(10, 19_990), 60, replace=False))
    peaks["channel_index"] = rng.integers(0, 8, 60)
    for sign in ("neg", "pos", "both"):
        source = PeakRetriever(recording, peaks)
        node = LocalPeakAmplitude(recording, parents=[source], radius_um=45.0, ms_window=0.2, peak_sign=sign)
        got = run_node_pipeline(recording, [source, node], dict(chunk_duration="0.3s", progress_bar=False))
        for i in range(60):
            s, c = peaks["sample_index"][i], peaks["channel_index"][i]
            near = np.linalg.norm(positions - positions[c], axis=1) <= 45.0  # the channel and two on each side
            window = traces[s - 2 : s + 3][:, near]
            expected = {"neg": -window.min(), "pos": window.max(), "both": np.abs(window).max()}[sign]
            assert got[i] == np.float32(max(expected, 0.0))
