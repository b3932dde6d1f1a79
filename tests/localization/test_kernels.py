"""The compiled example loops against their numpy definitions."""

import numpy as np

import pytest

from si_amortized.localization.collisions import TemplateTerms
from si_amortized.localization.kernels import (_gather, cut_projected, cut_projected_with_jitter, finish_examples,
                                               gather_windows, peak_search, peak_search_traces)


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


@pytest.mark.parametrize("peak_sign", ["neg", "pos", "both"])
@pytest.mark.parametrize("with_terms", [False, True])
def test_peak_search_traces_is_peak_search_of_the_copied_rows_plus_terms(peak_sign, with_terms):
    rng = np.random.default_rng(4)
    num_channels = 10
    traces = rng.normal(0, 30, (200, num_channels)).round().astype("float32")  # ties
    traces[50, 3] = np.nan
    times = np.clip(np.array([0, 30, 50, 51, 120, 199])[:, None] + np.arange(-1, 2)[None, :], 0, 199)
    mask = rng.random((num_channels, num_channels)) < 0.5
    mask[np.arange(num_channels), np.arange(num_channels)] = True
    mask.flags.writeable = False  # as the shared layout's
    rows = rng.integers(0, num_channels, times.shape[0])
    terms, starts = None, times[:, 0] - 0
    local = traces[times]
    if with_terms:
        templates = rng.normal(0, 40, (2, 20, num_channels)).astype("float32")
        terms = TemplateTerms.from_pairs(6, np.array([1, 2, 2, 5]), np.array([28, 45, 60, 190]), np.array([0, 1, 0, 1]),
                                         np.array([-1.0, -0.5, -2.0, -1.0]), templates, 8)
        terms.add_to(local, np.arange(times.shape[0]), starts)
        assert not np.array_equal(local, traces[times])
    got = peak_search_traces(traces, times, rows, mask, peak_sign, terms, starts)
    want = peak_search(local, rows, mask, peak_sign)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    with pytest.raises(ValueError, match="start"):
        peak_search_traces(traces, times, rows, mask, peak_sign, TemplateTerms.from_pairs(
            6, np.zeros(0, int), np.zeros(0, int), np.zeros(0, int), np.zeros(0), np.zeros((1, 20, num_channels)), 8))


def test_peak_search_refuses_an_unknown_peak_sign():
    with pytest.raises(ValueError, match="peak_sign"):
        peak_search(np.zeros((1, 1, 2), "float32"), np.zeros(1, np.int64), np.ones((1, 2), bool), "negative")


def _naive_jitter_examples(traces, starts, sign, peak_channel, table, basis, centre_slot, jitter, max_extra, terms):
    """Each spike's examples cut one by one with :func:`cut_projected`, the extra centres chosen by numpy."""
    parts, centres, spike_index = [], [], []
    for r in range(starts.size):
        one = np.array([r])
        first = cut_projected(traces, starts[one], sign[one], table[peak_channel[one]], basis, 8, 13, terms, one)
        parts.append(first)
        centres.append(peak_channel[r])
        spike_index.append(r)
        _, observed, amps = (a[0] for a in first)
        eligible = (observed > 0) & (amps >= amps.max() - np.float32(jitter)) & (amps > 0)
        eligible[centre_slot] = False
        order = np.argsort(-np.where(eligible, amps, -np.inf), kind="stable")[:max_extra]
        for slot in order[eligible[order]]:
            centre = table[peak_channel[r], slot]
            parts.append(cut_projected(traces, starts[one], sign[one], table[[centre]], basis, 8, 13, terms, one))
            centres.append(centre)
            spike_index.append(r)
    return (*(np.concatenate([p[i] for p in parts]) for i in range(3)), np.array(centres), np.array(spike_index))


@pytest.mark.parametrize("with_terms", [False, True])
@pytest.mark.parametrize("max_extra", [0, 1, 3])
def test_cut_projected_with_jitter_is_each_example_cut_on_its_own(with_terms, max_extra):
    """The fused pass (extra examples chosen on the first one's amplitudes, shared channels copied from it)
    gives exactly what cutting every example on its own with the numpy selection rule gives."""
    rng = np.random.default_rng(3)
    num_channels = 16
    traces = rng.normal(0, 20, (300, num_channels)).round().astype("float32")  # rounding makes amplitude ties
    traces[100:104, 5] = np.nan
    table = rng.integers(-1, num_channels, (num_channels, 7))
    table[:, 2] = np.arange(num_channels)  # the centre slot
    table[9, 4] = 5  # a channel made unobserved by its NaN samples
    starts = np.array([-6, 90, 92, 150, 280, 295])
    peak_channel = np.array([3, 9, 5, 12, 0, 9])
    sign = np.array([1.0, -1.0, 1.0, 1.0, -1.0, 1.0], dtype="float32")
    basis = rng.normal(size=(3, 24)).astype("float32")
    terms = None
    if with_terms:
        templates = rng.normal(0, 30, (2, 30, num_channels)).astype("float32")
        terms = TemplateTerms.from_pairs(6, np.array([0, 1, 3, 5]), np.array([5, 100, 160, 290]),
                                         np.array([0, 1, 0, 1]), np.array([-1.0, -0.7, -1.3, -0.5]), templates, 10)
    got = cut_projected_with_jitter(traces, starts, sign, peak_channel, table, basis, 8, 13, 2, 25.0, max_extra,
                                    terms)
    want = _naive_jitter_examples(traces, starts, sign, peak_channel, table, basis, 2, 25.0, max_extra, terms)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)
    assert got[4].size == starts.size if max_extra == 0 else got[4].size > starts.size + 2
    assert np.all(np.diff(got[4]) >= 0)  # a spike's examples contiguous, in spike order


def test_load_kernels_compiles_the_signatures_workers_meet():
    """Workers forked from a built node must not compile: after load_kernels, cutting examples as the node does
    (the shared read-only layout, writeable or memory-mapped traces, with and without overlap terms, raw or
    projected) adds no signature to any compiled loop."""
    import numba

    from si_amortized.localization import FeatureConfig, compute_examples, kernels
    from si_amortized.localization.collisions import TemplateTerms
    from si_amortized.localization.extraction import _layout
    from si_amortized.localization.kernels import _cut_project, _peak_search, load_kernels

    load_kernels()
    masks = {sig[2] for sig in _peak_search.signatures}
    assert {m.mutable for m in masks} == {True, False}
    assert {sig[0].mutable for sig in _cut_project.signatures} == {True, False}
    dispatchers = [v for v in vars(kernels).values() if isinstance(v, numba.core.registry.CPUDispatcher)]
    before = {d: len(d.signatures) for d in dispatchers}
    config = FeatureConfig()
    locations = np.array([[x, y] for y in range(0, 90, 15) for x in range(0, 90, 15)], dtype="float64")
    neighbourhood, candidates = _layout(locations.shape, locations.tobytes(), None, config)
    assert not neighbourhood.channel_table.flags.writeable
    rng = np.random.default_rng(0)
    traces = rng.normal(0, 10, (400, locations.shape[0])).astype("float32")
    times, channels = np.array([100, 130, 300]), np.array([7, 8, 20])
    templates = rng.normal(0, 10, (2, 40, locations.shape[0])).astype("float32")
    terms = TemplateTerms.from_pairs(3, np.array([0, 1]), np.array([130, 100]), np.array([1, 0]),
                                     np.array([-1.0, -1.0]), templates, 15)
    basis = rng.normal(size=(4, 64)).astype("float32")
    for writeable in (True, False):
        traces.flags.writeable = writeable
        for with_terms in (None, terms):
            for projected in (None, basis):
                compute_examples(traces, times, channels, neighbourhood, candidates, config, 32000.0,
                                 terms=with_terms, temporal_basis=projected)
    assert {d.py_func.__name__: len(d.signatures) - before[d] for d in dispatchers if len(d.signatures) > before[d]} == {}
