import numpy as np
import pytest

from si_amortized.rollae.metrics import (
    BurstParams,
    NeuralMetricsConfig,
    binned_to_spike_times,
    max_interval_bursts,
    neural_metrics,
    neural_metrics_table,
    spike_time_tiling,
)

P = BurstParams(max_begin_isi=0.1, max_end_isi=0.2, min_ibi=0.5, min_duration=0.05, min_spikes=4)


def _burst(start, n=5, isi=0.05):
    return start + isi * np.arange(n)


def test_max_interval_detector_on_hand_made_train():
    t = np.concatenate([[0.1, 1.0], _burst(2.0), [3.5], _burst(5.0, n=6), [6.4, 6.45]])  # last pair: too few spikes
    b = max_interval_bursts(t, P)
    assert b.tolist() == [[2, 6], [8, 13]]
    # two bursts 0.3 s apart are merged (min_ibi 0.5)
    t2 = np.concatenate([_burst(1.0), _burst(1.5)])
    assert max_interval_bursts(t2, P).tolist() == [[0, 9]]
    # end ISI: a 0.15 s gap continues a burst but cannot start one
    t3 = np.array([0.0, 0.05, 0.2, 0.35, 0.5, 0.65])
    assert max_interval_bursts(t3, P).tolist() == [[0, 5]]
    assert max_interval_bursts(np.array([0.0, 0.15, 0.3, 0.45]), P).shape == (0, 2)
    with pytest.raises(ValueError):
        max_interval_bursts(np.array([1.0, 0.5]), P)


def test_sttc():
    a = np.arange(0.5, 50, 1.0)
    assert spike_time_tiling(a, a, 0.01, 50.0) == pytest.approx(1.0)
    assert spike_time_tiling(a, a + 0.5, 0.01, 50.0) < 0
    assert np.isnan(spike_time_tiling(a, np.zeros(0), 0.01, 50.0))


def test_well_metrics_on_hand_made_trains():
    duration = 60.0
    starts = np.arange(5.0, 55.0, 10.0)  # 5 network bursts, 10 s apart
    trains = [np.concatenate([_burst(s + 0.002 * e) for s in starts]) for e in range(4)]
    trains.append(np.zeros(0))  # a silent electrode
    trains.append(np.array([30.0]))  # below 5 spikes per minute: not active
    cfg = NeuralMetricsConfig(burst=P, network_burst=BurstParams(max_begin_isi=0.05, max_end_isi=0.1, min_ibi=0.5, min_duration=0.05, min_spikes=10))
    m = neural_metrics(trains, duration, cfg)
    assert m["n_spikes"] == 4 * 25 + 1
    assert m["active_electrodes"] == 4
    assert m["weighted_mean_firing_rate_hz"] == pytest.approx(25 / 60)
    assert m["mean_firing_rate_hz"] == pytest.approx(101 / 60 / 6)
    assert m["burst_count"] == 20
    assert m["burst_frequency_hz"] == pytest.approx(5 / 60)
    assert m["spikes_per_burst"] == 5
    assert m["burst_duration_s"] == pytest.approx(0.2)
    assert m["ibi_cov"] == pytest.approx(0.0, abs=1e-9)
    assert m["burst_percentage"] == pytest.approx(100 * 100 / 101)
    assert m["network_burst_count"] == 5
    assert m["spikes_per_network_burst"] == 20
    assert m["network_ibi_cov"] == pytest.approx(0.0, abs=1e-9)
    assert m["synchrony_index"] > 0.9


def test_silent_well_gives_zeros_and_nans():
    m = neural_metrics([np.zeros(0)] * 8, 10.0)
    assert m["n_spikes"] == 0 and m["active_electrodes"] == 0 and m["burst_count"] == 0
    assert m["network_burst_count"] == 0
    assert np.isnan(m["burst_duration_s"]) and np.isnan(m["synchrony_index"])
    with pytest.raises(ValueError):
        neural_metrics([np.zeros(0)], 0.0)


def test_binned_roundtrip_and_table():
    counts = np.array([[0, 2, 1, 0], [3, 0, 0, 1]])
    times = binned_to_spike_times(counts, bin_width=0.5)
    assert [t.size for t in times] == [3, 4]
    rebinned = np.stack([np.bincount((t // 0.5).astype(int), minlength=4) for t in times])
    np.testing.assert_array_equal(rebinned, counts)
    df = neural_metrics_table(np.stack([counts, 0 * counts]), bin_width=0.5, fill_value=0.0)
    assert df.shape[0] == 2 and not df.isna().any().any()
    assert df.loc[1, "n_spikes"] == 0
    cyc = np.zeros((2, 300), int)
    cyc[:, ::17] = 1
    r = neural_metrics_table(cyc[None], config=NeuralMetricsConfig.for_bins())
    assert r.loc[0, "rhythmicity"] > 0.8
