"""Neighbourhoods with virtual channels, and examples cut from traces."""

import numpy as np
import pytest

from si_amortized.localization import FeatureConfig, build_neighbourhood, compute_examples
from si_amortized.localization.neighbourhood import channel_neighbours_mask, find_peak_channels, waveform_samples

from .toy import grid_positions, spike_shape


def test_square_grid_padding_at_corners_edges_and_centre():
    locs = grid_positions(10, 10, 15.0)  # SqMEA-10-15-like
    nb = build_neighbourhood(locs, 40.0)  # 5 x 5
    assert nb.num_slots == 25
    np.testing.assert_allclose(nb.offsets[nb.centre_slot], [0.0, 0.0])
    # the slot layout is the full 5 x 5 grid of 15 um offsets
    expected = {(dx, dy) for dx in range(-30, 31, 15) for dy in range(-30, 31, 15)}
    assert {tuple(np.round(o).astype(int)) for o in nb.offsets} == expected
    observed = (nb.channel_table >= 0).sum(axis=1)

    def index(ix, iy):
        return iy * 10 + ix

    assert observed[index(0, 0)] == 9  # corner: 3 x 3 real, 16 virtual
    assert observed[index(9, 9)] == 9
    assert observed[index(0, 5)] == 15  # edge: 3 x 5
    assert observed[index(1, 1)] == 16  # next to the corner: 4 x 4
    assert observed[index(5, 5)] == 25  # interior
    # every real slot holds the channel at centre + offset (naive check)
    for c in range(len(locs)):
        for k, j in enumerate(nb.channel_table[c]):
            target = locs[c] + nb.offsets[k]
            dist = np.linalg.norm(locs - target, axis=1)
            if j >= 0:
                assert dist[j] < 1e-6
            else:
                assert dist.min() > 1.0
    # the corner channel's virtual slots are exactly those pointing outside the array
    corner = nb.channel_table[index(0, 0)]
    outside = (nb.offsets[:, 0] < 0) | (nb.offsets[:, 1] < 0)
    np.testing.assert_array_equal(corner < 0, outside)


def test_disk_and_staggered_geometry():
    locs = grid_positions(5, 5, 20.0)
    nb = build_neighbourhood(locs, 21.0, shape="disk")
    assert nb.num_slots == 5  # centre + 4 neighbours at 20 um
    # staggered (Neuropixels-like) columns: slots are the union over both column parities
    stag = np.array([[(i % 2) * 16.0 + 32.0 * (k % 2), 20.0 * i] for i in range(12) for k in range(2)])
    nb = build_neighbourhood(stag, 35.0)
    assert np.all(nb.free_axes == 1)
    # every channel's real slots match its true neighbours within the box
    for c in range(len(stag)):
        inside = np.max(np.abs(stag - stag[c]), axis=1) <= 35.0
        assert (nb.channel_table[c] >= 0).sum() == inside.sum()


def test_linear_probe_and_bad_geometry():
    line = np.column_stack([np.zeros(16), np.arange(16) * 20.0])
    nb = build_neighbourhood(line, 40.0)
    np.testing.assert_array_equal(nb.free_axes, [0.0, 1.0, 1.0])
    assert nb.num_slots == 5
    with pytest.raises(ValueError, match="oblique"):
        build_neighbourhood(np.column_stack([np.arange(8) * 10.0, np.arange(8) * 10.0]), 30.0)
    with pytest.raises(ValueError):
        build_neighbourhood(np.zeros((4, 2)), 30.0)


def _traces_with_spike(locs, centre_time, amps, num_samples=400, sign=-1.0):
    shape = spike_shape()
    traces = np.zeros((num_samples, len(locs)), dtype="float32")
    traces[centre_time - 30 : centre_time + 31] += (-sign) * shape[:, None] * amps[None, :]
    return traces


def test_examples_match_naive_cut_and_flags():
    locs = grid_positions(6, 6, 15.0)
    cfg = FeatureConfig(half_width_um=20.0, amp_jitter_uv=0.0, ms_before=1.0, ms_after=1.0)
    nb = build_neighbourhood(locs, cfg.half_width_um)
    amps = np.exp(np.log(200.0) - np.linalg.norm(locs - [2.0, 3.0], axis=1) / 28.0)  # source near corner channel 0
    traces = _traces_with_spike(locs, 200, amps)
    traces[:, 7] = np.nan  # channel 7 = (15, 15): a neighbour of channel 0
    cand = channel_neighbours_mask(locs, cfg.peak_radius_um)
    ex = compute_examples(traces, np.array([201]), np.array([14]), nb, cand, cfg, 30000.0)
    nbefore, nafter = waveform_samples(cfg, 30000.0)
    assert ex.waveforms.shape == (1, 9, nbefore + nafter)
    assert ex.centre_channel[0] == 0  # peak channel found within +-1 sample and 50 um of channel 14
    table = nb.channel_table[0]
    for k, j in enumerate(table):
        if j < 0 or j == 7:
            assert ex.observed[0, k] == 0 and np.all(ex.waveforms[0, k] == 0) and ex.amplitudes[0, k] == 0
        else:
            assert ex.observed[0, k] == 1
            np.testing.assert_allclose(ex.waveforms[0, k], traces[200 - nbefore : 200 + nafter, j])
            np.testing.assert_allclose(ex.amplitudes[0, k], amps[j], rtol=1e-5)
    assert ex.observed[0].sum() == 3  # corner: 4 real channels, one of them NaN


def test_peak_channel_ignores_a_colliding_spike_outside_the_search_window():
    locs = grid_positions(6, 6, 15.0)
    traces = np.zeros((200, 36), dtype="float32")
    traces[100, 8] = -50.0  # our spike
    traces[103, 9] = -300.0  # bigger spike of another unit 3 samples later, on a neighbour
    chan, trough, sign = find_peak_channels(traces, np.array([100]), np.array([8]), channel_neighbours_mask(locs, 50.0), 1)
    assert chan[0] == 8 and trough[0] == 100 and sign[0] == 1
    chan, _, _ = find_peak_channels(traces, np.array([100]), np.array([8]), channel_neighbours_mask(locs, 50.0), 3)
    assert chan[0] == 9


def test_positive_spikes_are_flipped_with_peak_sign_both():
    locs = grid_positions(6, 6, 15.0)
    amps = np.exp(np.log(150.0) - np.linalg.norm(locs - [40.0, 40.0], axis=1) / 28.0)
    traces = _traces_with_spike(locs, 200, amps, sign=+1.0)
    nb = build_neighbourhood(locs, 20.0)
    cand = channel_neighbours_mask(locs, 50.0)
    both = FeatureConfig(peak_sign="both", amp_jitter_uv=0.0)
    ex = compute_examples(traces, np.array([200]), np.array([14]), nb, cand, both, 30000.0)
    pos = FeatureConfig(peak_sign="pos", amp_jitter_uv=0.0)
    ex_pos = compute_examples(traces, np.array([200]), np.array([14]), nb, cand, pos, 30000.0)
    neg_ex = compute_examples(-traces, np.array([200]), np.array([14]), nb, cand, FeatureConfig(amp_jitter_uv=0.0), 30000.0)
    for e in (ex, ex_pos):
        np.testing.assert_allclose(e.waveforms, neg_ex.waveforms, atol=1e-5)
        np.testing.assert_allclose(e.amplitudes, neg_ex.amplitudes, atol=1e-4)
    assert ex.valid[0]


def test_amplitude_jitter_examples_match_naive_rule():
    locs = grid_positions(6, 6, 15.0)
    # a source between 4 channels: several channels within 10 uV of the largest
    amps = np.exp(np.log(120.0) - np.linalg.norm(np.column_stack([locs, np.zeros(36)]) - [37.0, 38.0, 10.0], axis=1) / 28.0)
    traces = _traces_with_spike(locs, 200, amps)
    cfg = FeatureConfig(amp_jitter_uv=10.0, max_jitter_examples=9, half_width_um=20.0)
    nb = build_neighbourhood(locs, cfg.half_width_um)
    ex = compute_examples(traces, np.array([200]), np.array([14]), nb, channel_neighbours_mask(locs, 50.0), cfg, 30000.0)
    peak = int(np.argmax(amps))
    hood = nb.channel_table[peak][nb.channel_table[peak] >= 0]
    expected = {int(j) for j in hood if amps[j] >= amps[hood].max() - 10.0}
    assert set(ex.centre_channel.tolist()) == expected
    assert ex.centre_channel[0] == peak and np.all(ex.spike_index == 0)
    capped = compute_examples(
        traces, np.array([200]), np.array([14]), nb, channel_neighbours_mask(locs, 50.0),
        FeatureConfig(amp_jitter_uv=10.0, max_jitter_examples=2), 30000.0,
    )
    assert capped.waveforms.shape[0] == min(2, len(expected))


def test_resampling_matrix_is_exact_on_lines_identity_at_one_rate_and_refuses_far_rates():
    from si_amortized.localization.neighbourhood import resampling_matrix

    cfg = FeatureConfig(ms_before=1.0, ms_after=1.0)
    same = resampling_matrix(cfg, 32_000.0, 32_000.0)
    np.testing.assert_allclose(same, np.eye(64), atol=1e-6)
    m = resampling_matrix(cfg, 30_000.0, 32_000.0)
    assert m.shape == (64, 60)
    t_from = (np.arange(60) - 30) / 30_000.0
    t_to = (np.arange(64) - 32) / 32_000.0

    def wave(t):  # a smooth spike-like waveform, trough at t = 0
        return -np.exp(-(t / 2.5e-4) ** 2) + 0.3 * np.exp(-((t - 4e-4) / 3e-4) ** 2)

    resampled = m @ wave(t_from)
    np.testing.assert_allclose(resampled[32], wave(0.0), atol=1e-6)  # the trough sample stays the trough
    np.testing.assert_allclose(resampled[2:-2], wave(t_to)[2:-2], atol=0.01)
    line = m @ (3.0 * t_from * 1e3 + 1.0)  # natural splines reproduce a straight line exactly
    inside = t_to <= t_from[-1]
    np.testing.assert_allclose(line[inside], (3.0 * t_to * 1e3 + 1.0)[inside], atol=1e-4)
    with pytest.raises(ValueError, match="within a factor of 2"):
        resampling_matrix(cfg, 10_000.0, 32_000.0)
