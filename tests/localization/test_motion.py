"""The "vae" localizer under a peak detector: correct_motion, detect-and-localize pipelines, multi-shank probes."""

import warnings

import numpy as np
import pytest

import si_amortized  # noqa: F401  (registers "vae")
from spikeinterface.core import get_noise_levels
from spikeinterface.core.node_pipeline import ExtractDenseWaveforms, PeakRetriever, run_node_pipeline
from spikeinterface.sortingcomponents.peak_detection import detect_peaks
from spikeinterface.sortingcomponents.peak_detection.method_list import detect_peak_methods

from si_amortized.datasets.probes import neuropixels1_like_probe, neuropixels2_like_probe
from si_amortized.localization import LocalizeVae, build_neighbourhood
from si_amortized.localization.config import FeatureConfig
from si_amortized.localization.extraction import examples_from_recording, recording_layout
from si_amortized.localization.neighbourhood import compute_examples, margin_samples
from si_amortized.localization.training_peaks import DetectorTrainingSpikes, detect_training_peaks, random_chunks

DETECT = dict(peak_sign="neg", detect_threshold=6.0, exclude_sweep_ms=0.8, radius_um=50.0)
# on a Neuropixels-1.0 layout (staggered, 16 um columns, 20 um rows) the 3 x 3 window of 20 um is too narrow
# to follow drift (RMS 15-18 um, like center_of_mass); 40 um gives 2.8 um (monopolar_triangulation 1.5)
VAE = dict(epochs=5, max_spikes=1500, batch_size=64, seed=0, half_width_um=40.0)


@pytest.fixture(scope="module")
def drifting():
    from spikeinterface.generation import generate_drifting_recording

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, recording, _, info = generate_drifting_recording(
            num_units=12, duration=24.0, seed=0, probe=neuropixels1_like_probe(32), extra_outputs=True,
            generate_displacement_vector_kwargs=dict(
                displacement_sampling_frequency=5.0, drift_start_um=[0, 15], drift_stop_um=[0, -15], drift_step_um=1,
                motion_list=[dict(drift_mode="zigzag", non_rigid_gradient=None, t_start_drift=4.0, t_end_drift=None,
                                  period_s=16)],
            ),
        )
    return recording.save(format="memory", n_jobs=1, progress_bar=False), info


def _noise(recording):
    return get_noise_levels(recording, return_in_uV=False, seed=0)


def _detector(recording):
    return detect_peak_methods["locally_exclusive"](recording, noise_levels=_noise(recording), **DETECT)


def test_training_peaks_are_the_detector_peaks_of_random_chunks(drifting):
    recording, _ = drifting
    detector = _detector(recording)
    peaks = detect_training_peaks(recording, detector, num_chunks=4, chunk_duration_s=1.0, seed=3)
    again = detect_training_peaks(recording, detector, num_chunks=4, chunk_duration_s=1.0, seed=3)
    np.testing.assert_array_equal(peaks, again)  # seeded
    other = detect_training_peaks(recording, detector, num_chunks=4, chunk_duration_s=1.0, seed=4)
    assert not np.array_equal(peaks["sample_index"], other["sample_index"])
    # naive reference: SpikeInterface's own detection over the whole recording, kept inside the chunks
    full = detect_peaks(recording, method="locally_exclusive", method_kwargs=dict(DETECT, noise_levels=detector.abs_thresholds / 6.0),
                        job_kwargs=dict(n_jobs=1, progress_bar=False))
    chunks = random_chunks(recording, 4, int(recording.sampling_frequency), seed=3)
    inside = np.zeros(full.size, bool)
    for segment, start, end in chunks:
        inside |= (full["segment_index"] == segment) & (full["sample_index"] >= start) & (full["sample_index"] < end)
    assert peaks.size > 20
    np.testing.assert_array_equal(peaks["sample_index"], full["sample_index"][inside])
    np.testing.assert_array_equal(peaks["channel_index"], full["channel_index"][inside])


def _detect_and_localize(recording, n_jobs):
    detector = _detector(recording)
    waveforms = ExtractDenseWaveforms(recording, parents=[detector], ms_before=0.1, ms_after=0.3, return_output=False)
    node = LocalizeVae(recording, parents=[detector, waveforms], training_chunks=6, **VAE)
    return run_node_pipeline(recording, [detector, waveforms, node], dict(n_jobs=n_jobs, chunk_duration="1s",
                                                                          progress_bar=False), gather_mode="memory")


def test_training_examples_cut_while_detecting_equal_those_read_again(drifting):
    recording, _ = drifting
    detector = _detector(recording)
    spikes = DetectorTrainingSpikes(detector, num_chunks=4, chunk_duration_s=1.0, seed=3)
    config = FeatureConfig(half_width_um=40.0)
    neighbourhood, candidates = recording_layout(recording, config)
    fs = recording.sampling_frequency

    def cut(traces, sample_index, channel_index):
        return compute_examples(traces, sample_index, channel_index, neighbourhood, candidates, config, fs)

    peaks, examples = spikes.examples(recording, cut, margin_samples(config, fs))
    np.testing.assert_array_equal(peaks, detect_training_peaks(recording, detector, num_chunks=4, chunk_duration_s=1.0,
                                                               seed=3))
    assert peaks.size > 20
    again = examples_from_recording(recording, peaks, config, neighbourhood=neighbourhood)
    np.testing.assert_array_equal(examples.spike_index, again.spike_index)
    np.testing.assert_array_equal(examples.centre_channel, again.centre_channel)
    np.testing.assert_allclose(examples.waveforms, again.waveforms, atol=1e-4)
    np.testing.assert_array_equal(examples.valid, again.valid)


def test_detect_and_localize_pipeline_trains_on_chunks_and_ignores_n_jobs(drifting):
    recording, _ = drifting
    peaks_1, locs_1 = _detect_and_localize(recording, 1)
    peaks_2, locs_2 = _detect_and_localize(recording, 2)
    np.testing.assert_array_equal(peaks_1, peaks_2)
    np.testing.assert_allclose(locs_1["y"], locs_2["y"], atol=1e-4)
    assert np.isfinite(locs_1["y"]).mean() > 0.99


def test_under_a_detector_the_motion_defaults_apply_and_given_settings_win(drifting):
    from spikeinterface.core.node_pipeline import PeakRetriever

    from si_amortized.localization.nodes import DETECTOR_DEFAULTS

    recording, _ = drifting
    detector = _detector(recording)
    kw = dict(VAE, epochs=1, max_spikes=300)
    node = LocalizeVae(recording, parents=[detector], training_chunks=3, **kw)
    assert DETECTOR_DEFAULTS == dict(likelihood="gaussian", learn_decay_length=True, refine_steps=5)
    assert node.config.refine_steps == 5 and node.model.metadata["model_config"]["likelihood"] == "gaussian"
    assert node.model.metadata["model_config"]["learn_decay_length"]
    assert node.prepared.noise_uv > 0  # measured for the refinement (the Gaussian training's own)
    assert node.prepared.noise_uv == node.model.metadata["noise_uv"]
    given = LocalizeVae(recording, parents=[detector], training_chunks=3, likelihood="squared_error", refine_steps=0,
                        **kw)
    assert given.config.refine_steps == 0 and given.model.metadata["model_config"]["likelihood"] == "squared_error"
    assert given.prepared.noise_uv is None
    # on given peaks (before sorting, analyzers) the plain defaults stay
    peaks = detect_peaks(recording, method="locally_exclusive", method_kwargs=dict(DETECT, noise_levels=_noise(recording)),
                         job_kwargs=dict(n_jobs=1, progress_bar=False))
    retrieved = LocalizeVae(recording, parents=[PeakRetriever(recording, peaks)], **kw)
    assert retrieved.config.refine_steps == 0
    assert retrieved.model.metadata["model_config"]["likelihood"] == "squared_error"
    assert not retrieved.model.metadata["model_config"]["learn_decay_length"]


def test_under_a_detector_the_default_model_is_the_shipped_one_unless_training_is_asked_for(drifting):
    """correct_motion(..., method="vae") with no model: the shipped localizer when one fits the layout and the
    settings (no training); training settings, a window it was not made with, or an explicit model=None train."""
    import torch

    from si_amortized.localization.nodes import detector_model
    from si_amortized.localization.pretrained import pretrained_localizer

    recording, _ = drifting
    shipped = pretrained_localizer(recording)

    def same_weights(a, b):
        return all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))

    assert same_weights(detector_model(recording, {}), shipped)
    # inference settings and the seed keep it; training or another window does not
    assert same_weights(detector_model(recording, dict(seed=3, refine_steps=2, amp_jitter_uv=5.0)), shipped)
    assert detector_model(recording, dict(epochs=3)) is None
    assert detector_model(recording, dict(likelihood="squared_error")) is None
    assert detector_model(recording, dict(lr=1e-3)) is None  # an old name of a training setting
    assert detector_model(recording, dict(half_width_um=60.0)) is None
    # the node: no training under a detector (the shipped weights, the detector's refinement defaults)
    detector = _detector(recording)
    node = LocalizeVae(recording, parents=[detector])
    assert same_weights(node.model, shipped) and node.config.refine_steps == 5
    trained = LocalizeVae(recording, parents=[detector], model=None, training_chunks=3, **dict(VAE, epochs=1,
                                                                                              max_spikes=300))
    assert not same_weights(trained.model, shipped)
    # on given peaks the default still trains
    peaks = detect_peaks(recording, method="locally_exclusive", method_kwargs=dict(DETECT, noise_levels=_noise(recording)),
                         job_kwargs=dict(n_jobs=1, progress_bar=False))
    on_peaks = LocalizeVae(recording, parents=[PeakRetriever(recording, peaks)], epochs=1, max_spikes=300,
                           half_width_um=40.0)
    assert not same_weights(on_peaks.model, shipped)


@pytest.mark.slow
def test_correct_motion_with_vae_recovers_the_drift(drifting):
    from spikeinterface.preprocessing import correct_motion

    recording, info = drifting
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, motion = correct_motion(
            recording, preset="nonrigid_fast_and_accurate", output_motion=True, n_jobs=1, progress_bar=False,
            localize_peaks_kwargs=dict(method="vae", **VAE),
        )
    true_y = info["displacement_vectors"][:, 1, 0]
    true_t = np.arange(true_y.size) / 5.0
    estimated = motion.displacement[0]  # (num_temporal_bins, num_spatial_bins)
    truth = np.interp(motion.temporal_bins_s[0], true_t, true_y)
    error = estimated - truth[:, None]
    error -= error.mean(axis=0)  # motion is estimated up to an offset
    rms = float(np.sqrt(np.mean(error**2)))
    assert rms < 6.0, rms  # the drift spans 30 um
    assert np.ptp(estimated) > 15.0


def test_multi_shank_neighbourhoods_never_cross_shanks():
    probe = neuropixels2_like_probe(num_shanks=2, channels_per_shank=16)
    locations = probe.contact_positions.copy()
    locations[locations[:, 0] > 100, 0] -= 200.0  # shanks 50 um apart: a 40 um window would reach across
    groups = np.asarray(probe.shank_ids)
    crossing = build_neighbourhood(locations, 40.0)
    kept = build_neighbourhood(locations, 40.0, groups=groups)
    rows, slots = np.nonzero(crossing.channel_table >= 0)
    assert (groups[crossing.channel_table[rows, slots]] != groups[rows]).any()  # without groups it crosses
    rows, slots = np.nonzero(kept.channel_table >= 0)
    assert (groups[kept.channel_table[rows, slots]] == groups[rows]).all()
    # the same channels within a shank
    same = (crossing.channel_table >= 0) & (groups[np.maximum(crossing.channel_table, 0)] == groups[:, None])
    assert same.sum() == (kept.channel_table >= 0).sum() or kept.num_slots != crossing.num_slots


def test_under_a_detector_torch_runs_on_one_thread_in_process_and_gets_its_threads_back(drifting, monkeypatch):
    import torch
    from spikeinterface.core.node_pipeline import PeakRetriever

    from si_amortized.localization import nodes

    recording, _ = drifting
    detector = _detector(recording)
    kw = dict(VAE, epochs=1, max_spikes=300)
    under_detector = LocalizeVae(recording, parents=[detector], training_chunks=3, **kw)
    peaks = detect_peaks(recording, method="locally_exclusive", method_kwargs=dict(DETECT, noise_levels=_noise(recording)),
                         job_kwargs=dict(n_jobs=1, progress_bar=False))
    on_peaks = LocalizeVae(recording, parents=[PeakRetriever(recording, peaks)], prepared=under_detector.prepared)
    seen = []
    predict = nodes.predict_examples

    def recording_threads(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return predict(*args, **kwargs)

    monkeypatch.setattr(nodes, "predict_examples", recording_threads)
    fs = int(recording.sampling_frequency)
    traces = recording.get_traces(start_frame=0, end_frame=2 * fs)
    local = peaks[(peaks["sample_index"] > 100) & (peaks["sample_index"] < 2 * fs - 100)]
    previous = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        a = under_detector.compute(traces, local)
        assert torch.get_num_threads() == 2  # given back
        b = on_peaks.compute(traces, local)
        torch.set_num_threads(1)
        c = under_detector.compute(traces, local)
    finally:
        torch.set_num_threads(previous)
    assert seen == [1, 2, 1]  # one thread under the detector; the analyzer / given-peaks path keeps torch's
    assert local.size > 5
    np.testing.assert_allclose(a["y"], c["y"], atol=1e-4)  # the same locations either way
    np.testing.assert_allclose(a["y"], b["y"], atol=1e-4)
