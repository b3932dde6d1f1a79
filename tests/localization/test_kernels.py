"""The compiled example loops against their numpy definitions."""

import numpy as np

import pytest

from si_amortized.localization.collisions import TemplateTerms
from si_amortized.localization.kernels import _gather, cut_projected, finish_examples, gather_windows, peak_search


def _numpy_gather(traces, starts, channels, num_times):
    out = np.zeros((len(starts), channels.shape[1], num_times), dtype="float32")
    for r, s0 in enumerate(starts):
        for k, c in enumerate(channels[r]):
            for t in range(num_times):
                if c >= 0 and 0 <= s0 + t < traces.shape[0]:
                    out[r, k, t] = traces[s0 + t, c]
    return out


def _numpy_finish(wf, starts, sign, channels, num_samples, lo, hi):
    """The vectorised numpy definition the compiled loop replaced."""
    wf = wf.copy()
    times = starts[:, None] + np.arange(wf.shape[2])
    inside = (times >= 0) & (times < num_samples)
    wf *= inside[:, None, :]
    wf *= sign[:, None, None]
    observed = (channels >= 0) & np.isfinite(wf).all(axis=2)
    wf[~np.isfinite(wf)] = 0.0
    wf[~observed] = 0.0
    amps = np.clip(-wf[:, :, lo:hi].min(axis=2), 0.0, None)
    return wf, observed.astype("float32"), amps


def test_gather_and_finish_match_numpy_with_borders_virtual_slots_and_nan():
    rng = np.random.default_rng(0)
    traces = rng.normal(0, 20, (300, 9)).astype("float32")
    traces[140:150, 4] = np.nan
    traces[200, 7] = np.inf
    starts = np.array([-10, 0, 120, 135, 190, 280, 295, 50])
    channels = rng.integers(-1, 9, (starts.size, 5))
    channels[:, 0] = 4  # the NaN channel in every row
    sign = np.where(rng.random(starts.size) < 0.5, 1.0, -1.0).astype("float32")
    wf = gather_windows(traces, starts, channels, 20)
    want = _numpy_gather(np.nan_to_num(traces, nan=12345.0), starts, channels, 20)
    finite = np.isfinite(wf)
    np.testing.assert_array_equal(wf[finite], want[finite])
    assert (~finite).any()
    got_obs, got_amps = finish_examples(wf, starts, sign, channels, 300, 8, 13)  # wf in place
    got_wf = wf
    want_wf, want_obs, want_amps = _numpy_finish(_numpy_gather(traces, starts, channels, 20), starts, sign,
                                                 channels, 300, 8, 13)
    np.testing.assert_array_equal(got_obs, want_obs)
    np.testing.assert_array_equal(got_wf, want_wf)
    np.testing.assert_array_equal(got_amps, want_amps)
    assert got_obs[3, 0] == 0 and got_obs[2, 0] == 1  # the NaN burst unobserves that channel in that row only


def test_gather_writes_zeros_where_it_reads_nothing_into_an_uninitialised_buffer():
    rng = np.random.default_rng(1)
    traces = rng.normal(0, 20, (100, 6)).astype("float32")
    starts = np.array([-7, 0, 40, 90, 99, 150], dtype=np.int64)
    channels = rng.integers(-1, 6, (starts.size, 4)).astype(np.int64)
    out = np.full((starts.size, 4, 16), np.nan, dtype="float32")  # what np.empty may hold
    _gather(traces, starts, channels, out)
    np.testing.assert_array_equal(out, _numpy_gather(traces, starts, channels, 16))


@pytest.mark.parametrize("with_terms", [False, True])
def test_cut_projected_is_gather_terms_finish_then_projection(with_terms):
    rng = np.random.default_rng(2)
    traces = rng.normal(0, 20, (300, 9)).astype("float32")
    traces[140:150, 4] = np.nan
    traces[200, 7] = np.inf
    starts = np.array([-10, 0, 120, 135, 190, 280, 295, 50, 60])
    channels = rng.integers(-1, 9, (starts.size, 5))
    channels[:, 0] = 4
    sign = np.where(rng.random(starts.size) < 0.5, 1.0, -1.0).astype("float32")
    basis = rng.normal(size=(3, 20)).astype("float32")
    spikes = np.array([0, 1, 2, 2, 3, 4, 5, 6, 6])  # rows of one spike share its terms
    terms = None
    if with_terms:  # templates reaching into windows from either side, some past the traces' borders
        templates = rng.normal(0, 30, (3, 25, 9)).astype("float32")
        term_spike = np.array([0, 2, 2, 4, 5, 6])
        term_time = np.array([-5, 125, 150, 195, 300, 70])
        terms = TemplateTerms.from_pairs(7, term_spike, term_time, rng.integers(0, 3, 6), rng.uniform(-2, -0.5, 6),
                                         templates, 10)
    got, got_obs, got_amps = cut_projected(traces, starts, sign, channels, basis, 8, 13, terms, spikes)
    wf = _numpy_gather(traces, starts, channels, 20)
    if with_terms:
        terms.add_to(wf, spikes, starts, channels)
    want_wf, want_obs, want_amps = _numpy_finish(wf, starts, sign, channels, 300, 8, 13)
    np.testing.assert_array_equal(got_obs, want_obs)
    np.testing.assert_allclose(got_amps, want_amps, rtol=1e-6, atol=1e-5)
    np.testing.assert_allclose(got, want_wf @ basis.T, rtol=1e-5, atol=1e-3)
    assert got_obs[3, 0] == 0 and np.all(got[3, 0] == 0)  # a non-finite channel: unobserved, zero components
    assert np.all(got[channels < 0] == 0)
    with pytest.raises(ValueError, match="spike"):
        cut_projected(traces, starts, sign, channels, basis, 8, 13, TemplateTerms.from_pairs(
            1, np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros((1, 25, 9)), 10))


def _numpy_peak_search(local, rows, mask, peak_sign):
    """The vectorised numpy definition the compiled loop replaced."""
    n, num_lags, num_channels = local.shape
    local = np.nan_to_num(local, nan=0.0, posinf=0.0, neginf=0.0)
    cand = mask[rows][:, None, :]
    if peak_sign == "neg":
        score, sign = np.where(cand, -local, -np.inf), np.ones(n)
    elif peak_sign == "pos":
        score, sign = np.where(cand, local, -np.inf), -np.ones(n)
    else:
        neg_score = np.where(cand, -local, -np.inf)
        pos_score = np.where(cand, local, -np.inf)
        use_pos = pos_score.reshape(n, -1).max(axis=1) > neg_score.reshape(n, -1).max(axis=1)
        score = np.where(use_pos[:, None, None], pos_score, neg_score)
        sign = np.where(use_pos, -1.0, 1.0)
    flat = np.argmax(score.reshape(n, -1), axis=1)
    lag, chan = np.unravel_index(flat, (num_lags, num_channels))
    return chan, lag, sign.astype("float32")


@pytest.mark.parametrize("peak_sign", ["neg", "pos", "both"])
def test_peak_search_matches_numpy_with_ties_nan_inf_and_empty_candidates(peak_sign):
    rng = np.random.default_rng(2)
    n, num_lags, num_channels = 400, 3, 12
    local = rng.normal(0, 30, (n, num_lags, num_channels)).round().astype("float32")  # rounding makes ties
    local[5, 1, 3] = np.nan
    local[6, :, :] = np.inf
    local[7, 0, 2] = -np.inf
    local[8] = 0.0  # all equal: the first candidate
    local[9] = np.abs(local[9])  # positive only: "both" picks the positive peak
    mask = rng.random((num_channels, num_channels)) < 0.4
    mask[np.arange(num_channels), np.arange(num_channels)] = True
    mask[11] = False  # a row without candidates: argmax of all -inf, (0, 0)
    rows = rng.integers(0, num_channels, n)
    rows[:3] = 11
    got = peak_search(local, rows, mask, peak_sign)
    want = _numpy_peak_search(local, rows, mask, peak_sign)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    if peak_sign == "both":
        assert got[2][9] == -1 and (got[2] == 1).any()


def test_peak_search_refuses_an_unknown_peak_sign():
    with pytest.raises(ValueError, match="peak_sign"):
        peak_search(np.zeros((1, 1, 2), "float32"), np.zeros(1, np.int64), np.ones((1, 2), bool), "negative")


@pytest.mark.parametrize("with_terms", [False, True])
def test_cut_projected_reusing_earlier_rows_gives_what_cutting_again_gives(with_terms):
    """Rows sharing an earlier row's start, sign and spike copy its channels: the same result as cutting them."""
    rng = np.random.default_rng(3)
    traces = rng.normal(0, 20, (300, 12)).astype("float32")
    traces[100:104, 5] = np.nan
    first_starts = np.array([-6, 90, 150, 280])
    first_channels = rng.integers(-1, 12, (4, 6))
    first_channels[1, 0] = 5  # a channel made unobserved by its NaN samples, to be copied as unobserved
    sign = np.array([1.0, -1.0, 1.0, 1.0], dtype="float32")
    basis = rng.normal(size=(3, 24)).astype("float32")
    spikes = np.arange(4)
    terms = None
    if with_terms:
        templates = rng.normal(0, 30, (2, 30, 12)).astype("float32")
        terms = TemplateTerms.from_pairs(4, np.array([0, 1, 3]), np.array([5, 100, 290]), np.array([0, 1, 0]),
                                         np.array([-1.0, -0.7, -1.3]), templates, 10)
    earlier = cut_projected(traces, first_starts, sign, first_channels, basis, 8, 13, terms, spikes)
    rows = np.array([0, 1, 1, 3])  # extra rows: spike 1 twice, spike 2 none
    channels = rng.integers(-1, 12, (rows.size, 6))
    channels[:, :3] = first_channels[rows, 3:]  # half of each overlaps the earlier example, in other slots
    channels[1, 3] = 5
    got = cut_projected(traces, first_starts[rows], sign[rows], channels, basis, 8, 13, terms, rows,
                        reuse=(rows, first_channels, *earlier))
    want = cut_projected(traces, first_starts[rows], sign[rows], channels, basis, 8, 13, terms, rows)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[1][1, 3] == 0  # the NaN channel stayed unobserved
    # the overlapping channels are copied, not cut again: marked earlier components come through there only
    marked = cut_projected(traces, first_starts[rows], sign[rows], channels, basis, 8, 13, terms, rows,
                           reuse=(rows, first_channels, earlier[0] + 1000.0, *earlier[1:]))
    shared = np.array([[c >= 0 and c in first_channels[q] for c in row] for q, row in zip(rows, channels)])
    assert shared.sum() >= rows.size * 3
    np.testing.assert_array_equal(marked[0][shared], got[0][shared] + 1000.0)
    np.testing.assert_array_equal(marked[0][~shared], got[0][~shared])
    with pytest.raises(ValueError, match="earlier row"):
        cut_projected(traces, first_starts[rows], sign[rows], channels, basis, 8, 13, terms, rows,
                      reuse=(rows[:2], first_channels, *earlier))


def test_load_kernels_compiles_the_signatures_workers_meet():
    """Workers forked from a built node must not compile: the shared read-only layout and memory-mapped traces
    are other numba signatures than writeable arrays, so load_kernels compiles both."""
    from si_amortized.localization.kernels import _cut_project, _peak_search, load_kernels

    load_kernels()
    masks = {sig[2] for sig in _peak_search.signatures}
    assert {m.mutable for m in masks} == {True, False}
    assert {sig[0].mutable for sig in _cut_project.signatures} == {True, False}
