"""Compiled (numba) loops over examples: the hot paths of cutting the localizer's examples from traces.

Each loop does in one pass what numpy does in several passes with large temporaries; the numpy
definitions they replace are written out in the tests (``tests/localization/test_kernels.py`` and
``test_collisions.py``).
Compiled once per machine (``cache=True``), released from the GIL.
"""

from __future__ import annotations

import numba
import numpy as np

__all__ = ["gather_windows", "finish_examples", "cut_projected", "cut_projected_with_jitter", "add_terms_all_channels",
           "add_terms_slots", "least_squares_scales", "peak_search", "peak_search_traces", "load_kernels"]


@numba.njit(cache=True, nogil=True)
def _gather(traces, starts, channels, out):  # pragma: no cover (compiled)
    num_samples = traces.shape[0]
    num_rows, num_slots, num_times = out.shape
    for r in range(num_rows):
        s0 = starts[r]
        t0, t1 = max(0, -s0), min(num_times, num_samples - s0)
        t1 = max(t1, t0)
        for k in range(num_slots):  # zeros where nothing is read (``out`` comes uninitialised)
            if channels[r, k] < 0:
                for t in range(num_times):
                    out[r, k, t] = 0.0
            else:
                for t in range(t0):
                    out[r, k, t] = 0.0
                for t in range(t1, num_times):
                    out[r, k, t] = 0.0
        for t in range(t0, t1):  # one trace row at a time: the channels of a sample are contiguous
            for k in range(num_slots):
                c = channels[r, k]
                if c >= 0:
                    out[r, k, t] = traces[s0 + t, c]


def gather_windows(traces: np.ndarray, starts: np.ndarray, channels: np.ndarray, num_times: int) -> np.ndarray:
    """Windows of the traces on given channels.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels), float32
    starts : np.ndarray, shape (num_rows,)
        First sample of each row's window (may lie outside the traces).
    channels : np.ndarray, shape (num_rows, K)
        Channel of each slot, -1 for none.
    num_times : int

    Returns
    -------
    np.ndarray, shape (num_rows, K, num_times), float32
        ``out[r, k, t] = traces[starts[r] + t, channels[r, k]]``, 0 outside the traces and where the channel is -1.
    """
    out = np.empty((channels.shape[0], channels.shape[1], num_times), dtype="float32")
    _gather(np.ascontiguousarray(traces, dtype="float32"), np.ascontiguousarray(starts, dtype=np.int64),
            np.ascontiguousarray(channels, dtype=np.int64), out)
    return out


@numba.njit(cache=True, nogil=True)
def _finish(wf, starts, sign, channels, num_samples, lo, hi, observed, amplitudes):  # pragma: no cover
    num_rows, num_slots, num_times = wf.shape
    for r in range(num_rows):
        s0 = starts[r]
        t0, t1 = max(0, -s0), min(num_times, num_samples - s0)
        g = sign[r]
        for k in range(num_slots):
            finite = channels[r, k] >= 0
            if finite:
                for t in range(num_times):
                    if t < t0 or t >= t1:
                        wf[r, k, t] = 0.0
                    else:
                        v = wf[r, k, t] * g
                        if not np.isfinite(v):
                            finite = False
                            break
                        wf[r, k, t] = v
            if not finite:
                for t in range(num_times):
                    wf[r, k, t] = 0.0
                continue
            observed[r, k] = 1.0
            low = np.inf
            for t in range(lo, hi):
                if wf[r, k, t] < low:
                    low = wf[r, k, t]
            amplitudes[r, k] = max(-low, 0.0)


def finish_examples(wf: np.ndarray, starts: np.ndarray, sign: np.ndarray, channels: np.ndarray, num_samples: int,
                    lo: int, hi: int) -> tuple[np.ndarray, np.ndarray]:
    """Polarity, observed flags and amplitudes of gathered windows; in place on ``wf``.

    Parameters
    ----------
    wf : np.ndarray, shape (num_rows, K, num_times), float32
        Gathered windows (:func:`gather_windows`, plus any template terms). On return: times outside the
        traces zero, multiplied by each row's sign, and zero on slots that are virtual or not finite.
    starts : np.ndarray, shape (num_rows,)
    sign : np.ndarray, shape (num_rows,)
    channels : np.ndarray, shape (num_rows, K)
        -1 for a virtual slot.
    num_samples : int
        Length of the traces the windows were cut from.
    lo, hi : int
        Samples of the window the amplitude is taken over.

    Returns
    -------
    observed : np.ndarray, shape (num_rows, K), float32
        1 on real channels whose window is finite (inside the traces).
    amplitudes : np.ndarray, shape (num_rows, K), float32
        ``max(-min(wf[r, k, lo:hi]), 0)``, 0 where not observed.
    """
    observed = np.zeros(channels.shape, dtype="float32")
    amplitudes = np.zeros(channels.shape, dtype="float32")
    _finish(wf, np.ascontiguousarray(starts, dtype=np.int64), np.ascontiguousarray(sign, dtype="float32"),
            np.ascontiguousarray(channels, dtype=np.int64), int(num_samples), int(lo), int(hi), observed, amplitudes)
    return observed, amplitudes


@numba.njit(cache=True, nogil=True, fastmath={"reassoc", "contract"})
def _project(waveform, basis, out):  # pragma: no cover (compiled)
    """``out[p] = sum_t basis[p, t] * waveform[t]`` (sums reassociated: vectorized)."""
    for p in range(basis.shape[0]):
        b = basis[p]
        acc = np.float32(0.0)
        for t in range(waveform.size):
            acc += b[t] * waveform[t]
        out[p] = acc


_EXPONENT = np.int32(0x7F800000)  # all exponent bits set: inf or NaN


@numba.njit(cache=True, nogil=True)
def _all_finite(values):  # pragma: no cover (compiled)
    """Whether no value is inf or NaN (a max over the exponent bits, which vectorizes)."""
    bits = values.view(np.int32)
    top = np.int32(0)
    for t in range(bits.size):
        top = max(top, bits[t] & _EXPONENT)
    return top != _EXPONENT


@numba.njit(cache=True, nogil=True, inline="always")
def _cut_row(traces, s0, g, channels, basis, lo, hi, spike, term_start, term_time, term_unit, term_weight,
             templates_by_channel, nbefore, stamp, stamp_id, slot_of, source_out, source_observed, source_amplitudes,
             q, window, todo, out, observed, amplitudes):  # pragma: no cover (compiled)
    """One example into ``out`` / ``observed`` / ``amplitudes`` (one row each; the last two zero on entry).

    A channel ``c`` with ``stamp[c] == stamp_id`` is copied from slot ``slot_of[c]`` of row ``q`` of the source
    arrays (an example of the same spike, window and terms); the others are cut from the traces, the spike's
    terms (``spike`` >= 0) added, the polarity ``g`` applied, and projected on ``basis``.
    """
    num_samples = traces.shape[0]
    num_slots, num_times = window.shape
    t0, t1 = max(0, -s0), min(num_times, num_samples - s0)
    t1 = max(t1, t0)
    for k in range(num_slots):
        c = channels[k]
        todo[k] = -1 if c < 0 or stamp[c] == stamp_id else c
    for t in range(t0, t1):  # gather, one trace row at a time
        row = traces[s0 + t]
        for k in range(num_slots):
            c = todo[k]
            if c >= 0:
                window[k, t] = row[c]
    if spike >= 0:
        _add_row_terms(window, spike, s0, todo, term_start, term_time, term_unit, term_weight, templates_by_channel,
                       nbefore)
    for k in range(num_slots):  # finish and project
        o = out[k]
        c = channels[k]
        if c >= 0 and todo[k] < 0:  # the same channel, window and terms as in the source example
            j = slot_of[c]
            o[:] = source_out[q, j]
            observed[k] = source_observed[q, j]
            amplitudes[k] = source_amplitudes[q, j]
            continue
        o[:] = 0.0
        if c < 0:
            continue
        w = window[k]
        w[:t0] = 0.0
        w[t1:] = 0.0
        for t in range(num_times):
            w[t] *= g
        if not _all_finite(w):
            continue
        observed[k] = 1.0
        low = np.inf
        for t in range(lo, hi):
            low = min(low, w[t])
        amplitudes[k] = max(-low, 0.0)
        _project(w, basis, o)


@numba.njit(cache=True, nogil=True)
def _cut_project(traces, starts, sign, channels, basis, lo, hi, spikes, term_start, term_time, term_unit,
                 term_weight, templates_by_channel, nbefore, out, observed, amplitudes):  # pragma: no cover
    num_rows, num_slots = channels.shape
    window = np.zeros((num_slots, basis.shape[1]), dtype=np.float32)  # one row's waveforms, reused
    todo = np.empty(num_slots, dtype=np.int64)  # the row's channels to cut (-1: virtual)
    stamp = np.full(traces.shape[1], -1, dtype=np.int64)  # nothing copied: no channel is stamped -2
    for r in range(num_rows):
        _cut_row(traces, starts[r], np.float32(sign[r]), channels[r], basis, lo, hi, spikes[r] if spikes.size else -1,
                 term_start, term_time, term_unit, term_weight, templates_by_channel, nbefore, stamp, -2, stamp,
                 out, observed, amplitudes, 0, window, todo, out[r], observed[r], amplitudes[r])


def _term_args(terms, spikes):
    """The compiled loops' arguments for ``terms`` (None: no terms)."""
    if terms is None:
        none, weights = np.zeros(0, dtype=np.int64), np.zeros(0, dtype="float32")
        return none, np.zeros(1, dtype=np.int64), none, none, weights, np.zeros((0, 0, 0), dtype="float32"), 0
    if spikes is None:
        raise ValueError("terms need the spike of each row")
    return (np.ascontiguousarray(spikes, dtype=np.int64), terms.start, terms.time, terms.unit, terms.weight,
            terms.templates_by_channel, terms.nbefore)


def cut_projected(traces: np.ndarray, starts: np.ndarray, sign: np.ndarray, channels: np.ndarray,
                  basis: np.ndarray, lo: int, hi: int, terms=None, spikes: np.ndarray | None = None):
    """:func:`gather_windows`, the terms, :func:`finish_examples` and a temporal projection, in one pass per row.

    Each row's waveforms stay in a small buffer from the read to the projection: nothing of shape
    (num_rows, K, num_times) is made.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels), float32
    starts, sign : np.ndarray, shape (num_rows,)
    channels : np.ndarray, shape (num_rows, K)
        -1 for a virtual slot.
    basis : np.ndarray, shape (P, num_times)
        Temporal components: row ``r``'s slot ``k`` becomes ``basis @ waveform``.
    lo, hi : int
        Samples of the window the amplitude is taken over.
    terms : TemplateTerms | None, default: None
        Templates added to each row's samples before the rest (:mod:`~si_amortized.localization.collisions`),
        by ``spikes`` (shape (num_rows,)), the spike of each row.

    Returns
    -------
    components : np.ndarray, shape (num_rows, K, P), float32
        ``basis @ waveform`` of the sign-corrected waveforms of :func:`finish_examples`; 0 where not observed.
    observed, amplitudes : np.ndarray, shape (num_rows, K), float32
        As :func:`finish_examples`.
    """
    basis = np.ascontiguousarray(basis, dtype="float32")
    out = np.empty((channels.shape[0], channels.shape[1], basis.shape[0]), dtype="float32")
    observed = np.zeros(channels.shape, dtype="float32")
    amplitudes = np.zeros(channels.shape, dtype="float32")
    _cut_project(np.ascontiguousarray(traces, dtype="float32"), np.ascontiguousarray(starts, dtype=np.int64),
                 np.ascontiguousarray(sign, dtype="float32"), np.ascontiguousarray(channels, dtype=np.int64),
                 basis, int(lo), int(hi), *_term_args(terms, spikes), out, observed, amplitudes)
    return out, observed, amplitudes


@numba.njit(cache=True, nogil=True)
def _cut_project_jitter(traces, starts, sign, peak_channel, table, basis, lo, hi, spikes, term_start, term_time,
                        term_unit, term_weight, templates_by_channel, nbefore, centre_slot, jitter, max_extra, out,
                        observed, amplitudes, centres, spike_index):  # pragma: no cover (compiled)
    num_slots = table.shape[1]
    window = np.zeros((num_slots, basis.shape[1]), dtype=np.float32)
    todo = np.empty(num_slots, dtype=np.int64)
    stamp = np.full(traces.shape[1], -1, dtype=np.int64)  # == r: the channel is in spike r's first example
    slot_of = np.zeros(traces.shape[1], dtype=np.int64)  # its slot there
    taken = np.zeros(num_slots, dtype=np.bool_)
    e = 0
    for r in range(starts.size):
        s0, g, spike = starts[r], np.float32(sign[r]), spikes[r] if spikes.size else -1
        first, chans = e, table[peak_channel[r]]
        _cut_row(traces, s0, g, chans, basis, lo, hi, spike, term_start, term_time, term_unit, term_weight,
                 templates_by_channel, nbefore, stamp, -2, slot_of, out, observed, amplitudes, 0, window, todo,
                 out[e], observed[e], amplitudes[e])
        centres[e], spike_index[e] = peak_channel[r], r
        e += 1
        if max_extra == 0:
            continue
        top = np.float32(0.0)
        for k in range(num_slots):
            top = max(top, amplitudes[first, k])
        threshold = top - jitter  # float32, as numpy's ``amps >= top - amp_jitter_uv``
        for k in range(num_slots):
            taken[k] = False
            c = chans[k]
            if c >= 0:
                stamp[c], slot_of[c] = r, k
        for _ in range(max_extra):  # the largest eligible amplitudes first, the lower slot on a tie
            best, best_amplitude = -1, np.float32(-np.inf)
            for k in range(num_slots):
                a = amplitudes[first, k]
                if (k != centre_slot and not taken[k] and observed[first, k] > 0 and a >= threshold and a > 0
                        and a > best_amplitude):
                    best, best_amplitude = k, a
            if best < 0:
                break
            taken[best] = True
            centre = chans[best]
            _cut_row(traces, s0, g, table[centre], basis, lo, hi, spike, term_start, term_time, term_unit,
                     term_weight, templates_by_channel, nbefore, stamp, r, slot_of, out, observed, amplitudes, first,
                     window, todo, out[e], observed[e], amplitudes[e])
            centres[e], spike_index[e] = centre, r
            e += 1
    return e


def cut_projected_with_jitter(traces: np.ndarray, starts: np.ndarray, sign: np.ndarray, peak_channel: np.ndarray,
                              table: np.ndarray, basis: np.ndarray, lo: int, hi: int, centre_slot: int,
                              jitter_uv: float, max_extra: int, terms=None):
    """Each spike's example centred on its peak channel, then its amplitude-jitter examples, projected.

    One pass per spike: the extra examples are chosen on the first one's amplitudes (observed channels other
    than the centre within ``jitter_uv`` of its largest amplitude, largest first, the lower slot on a tie, at
    most ``max_extra``) and cut while the spike's window is still in the cache, their channels shared with
    the first example copied from it (:func:`cut_projected` of each, in the order of
    :func:`~si_amortized.localization.neighbourhood.compute_examples`).

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels), float32
    starts, sign, peak_channel : np.ndarray, shape (num_spikes,)
        First sample of each spike's window, its polarity and its peak channel.
    table : np.ndarray, shape (num_channels, K)
        Channel in each slot around each centre channel, -1 for a virtual slot (``Neighbourhood.channel_table``).
    basis : np.ndarray, shape (P, num_times)
    lo, hi : int
        Samples of the window the amplitude is taken over.
    centre_slot : int
    jitter_uv : float
    max_extra : int
        0: one example per spike.
    terms : TemplateTerms | None, default: None
        Templates added to each spike's examples (indexed by spike).

    Returns
    -------
    components : np.ndarray, shape (num_examples, K, P), float32
    observed, amplitudes : np.ndarray, shape (num_examples, K), float32
    centres, spike_index : np.ndarray of int64, shape (num_examples,)
        Centre channel and spike of each example; a spike's examples are contiguous, its first one first.
    """
    n, num_slots = starts.size, table.shape[1]
    basis = np.ascontiguousarray(basis, dtype="float32")
    table = np.ascontiguousarray(table, dtype=np.int64)
    if not table.flags.writeable:  # a shared layout: one numba signature (load_kernels) instead of two
        table = table.copy()
    rows = n * (1 + max(int(max_extra), 0))
    out = np.empty((rows, num_slots, basis.shape[0]), dtype="float32")
    observed = np.zeros((rows, num_slots), dtype="float32")
    amplitudes = np.zeros((rows, num_slots), dtype="float32")
    centres, spike_index = np.empty(rows, dtype=np.int64), np.empty(rows, dtype=np.int64)
    spikes = np.arange(n) if terms is not None else None
    e = _cut_project_jitter(
        np.ascontiguousarray(traces, dtype="float32"), np.ascontiguousarray(starts, dtype=np.int64),
        np.ascontiguousarray(sign, dtype="float32"), np.ascontiguousarray(peak_channel, dtype=np.int64),
        table, basis, int(lo), int(hi), *_term_args(terms, spikes),
        int(centre_slot), np.float32(jitter_uv), max(int(max_extra), 0), out, observed, amplitudes, centres,
        spike_index)
    return out[:e], observed[:e], amplitudes[:e], centres[:e], spike_index[:e]


@numba.njit(cache=True, nogil=True)
def add_terms_all_channels(values, spikes, starts, term_start, term_time, term_unit, term_weight, templates,
                           nbefore):  # pragma: no cover (compiled)
    """``values[r, t, :] += w * templates[u, starts[r] + t - time + nbefore, :]`` for each term of each row."""
    num_rows, num_times, num_channels = values.shape
    length = templates.shape[1]
    for r in range(num_rows):
        s = spikes[r]
        for k in range(term_start[s], term_start[s + 1]):
            offset = starts[r] - term_time[k] + nbefore  # template sample at the row's first time
            t0, t1 = max(0, -offset), min(num_times, length - offset)
            u, w = term_unit[k], term_weight[k]
            for t in range(t0, t1):  # row slices: the inner loop vectorizes
                row, src = values[r, t], templates[u, offset + t]
                for c in range(num_channels):
                    row[c] += w * src[c]


@numba.njit(cache=True, nogil=True, inline="always")
def _add_row_terms(row, s, start, channels, term_start, term_time, term_unit, term_weight, templates_by_channel,
                   nbefore):  # pragma: no cover (compiled)
    """``row[k, t] += w * templates_by_channel[u, channels[k], start + t - time + nbefore]`` for spike ``s``'s terms."""
    num_slots, num_times = row.shape
    length = templates_by_channel.shape[2]
    for k in range(term_start[s], term_start[s + 1]):
        offset = start - term_time[k] + nbefore
        t0, t1 = max(0, -offset), min(num_times, length - offset)
        if t1 <= t0:
            continue
        u, w = term_unit[k], term_weight[k]
        for slot in range(num_slots):
            c = channels[slot]
            if c < 0:
                continue
            dst, src = row[slot, t0:t1], templates_by_channel[u, c, offset + t0:offset + t1]
            for t in range(t1 - t0):  # slices: the inner loop vectorizes
                dst[t] += w * src[t]


@numba.njit(cache=True, nogil=True)
def add_terms_slots(values, spikes, starts, channels, term_start, term_time, term_unit, term_weight,
                    templates_by_channel, nbefore):  # pragma: no cover (compiled)
    """``values[r, k, t] += w * templates_by_channel[u, channels[r, k], starts[r] + t - time + nbefore]``."""
    for r in range(values.shape[0]):
        _add_row_terms(values[r], spikes[r], starts[r], channels[r], term_start, term_time, term_unit, term_weight,
                       templates_by_channel, nbefore)


@numba.njit(cache=True, nogil=True)
def least_squares_scales(traces, starts, units, channels, main_templates, out):  # pragma: no cover (compiled)
    """``out[i] = <x_i, t_i> / <t_i, t_i>`` on the unit's channel, ``x_i`` the traces from ``starts[i]`` (NaN as 0).

    ``main_templates[u]`` is unit ``u``'s template on its channel ``channels[u]`` (contiguous: one strided
    stream per spike, the traces'). Rows whose template is zero or whose window leaves the traces are left as
    they are.
    """
    num_samples = traces.shape[0]
    num_units, length = main_templates.shape
    norms = np.zeros(num_units)
    for u in range(num_units):
        for t in range(length):
            w = main_templates[u, t]
            norms[u] += w * w
    for i in range(starts.size):
        s0 = starts[i]
        if s0 < 0 or s0 + length > num_samples:
            continue
        u = units[i]
        c, template = channels[u], main_templates[u]
        dot = 0.0
        for t in range(length):
            x = traces[s0 + t, c]
            if np.isfinite(x):
                dot += x * template[t]
        if norms[u] > 0:
            out[i] = dot / norms[u]


@numba.njit(cache=True, nogil=True, inline="always")
def _search_one(local, candidates, mode):  # pragma: no cover (compiled)
    """``(lag, channel, sign)`` of the largest deflection of one spike's ``local`` (lags, channels) values."""
    num_lags, num_channels = local.shape
    best_neg, best_pos = -np.inf, -np.inf
    at_neg, at_pos = 0, 0
    for j in range(num_lags):
        for c in range(num_channels):
            if not candidates[c]:
                continue
            v = local[j, c]
            if not np.isfinite(v):
                v = 0.0
            if -v > best_neg:  # strict: the first largest in (lag, channel) order, as argmax
                best_neg, at_neg = -v, j * num_channels + c
            if v > best_pos:
                best_pos, at_pos = v, j * num_channels + c
    use_pos = mode == 1 or (mode == 2 and best_pos > best_neg)
    at = at_pos if use_pos else at_neg
    return at // num_channels, at % num_channels, -1.0 if use_pos else 1.0


@numba.njit(cache=True, nogil=True)
def _peak_search(local, rows, mask, mode, chan, lag, sign):  # pragma: no cover (compiled)
    for i in range(local.shape[0]):
        lag[i], chan[i], sign[i] = _search_one(local[i], mask[rows[i]], mode)


@numba.njit(cache=True, nogil=True)
def _peak_search_traces(traces, times, rows, mask, mode, starts, spikes, term_start, term_time, term_unit, term_weight,
                        templates, nbefore, chan, lag, sign):  # pragma: no cover (compiled)
    num_lags, num_channels = times.shape[1], traces.shape[1]
    local = np.empty((1, num_lags, num_channels), dtype=np.float32)  # one spike's rows, its terms added
    for i in range(times.shape[0]):
        for j in range(num_lags):
            local[0, j, :] = traces[times[i, j]]
        if spikes.size:
            add_terms_all_channels(local, spikes[i:i + 1], starts[i:i + 1], term_start, term_time, term_unit,
                                   term_weight, templates, nbefore)
        lag[i], chan[i], sign[i] = _search_one(local[0], mask[rows[i]], mode)


def peak_search(local: np.ndarray, rows: np.ndarray, mask: np.ndarray, peak_sign: str):
    """The largest deflection of each spike among its candidate channels and lags.

    Parameters
    ----------
    local : np.ndarray, shape (num_spikes, num_lags, num_channels), float32
        Traces around each spike (NaN and inf read as 0).
    rows : np.ndarray, shape (num_spikes,)
        Row of ``mask`` giving each spike's candidate channels.
    mask : np.ndarray of bool, shape (num_rows, num_channels)
    peak_sign : "neg" | "pos" | "both"
        "both": the larger of the two, the negative one on a tie.

    Returns
    -------
    channel, lag : np.ndarray of int64, shape (num_spikes,)
        The first largest in (lag, channel) order (``np.argmax`` of the flattened scores); 0, 0 when a spike
        has no candidate.
    sign : np.ndarray of float32, shape (num_spikes,)
        +1 when the peak is negative, -1 when positive.
    """
    mode, chan, lag, sign = _search_outputs(local.shape[0], peak_sign)
    _peak_search(np.ascontiguousarray(local, dtype="float32"), np.ascontiguousarray(rows, dtype=np.int64),
                 np.ascontiguousarray(mask, dtype=np.bool_), mode, chan, lag, sign)
    return chan, lag, sign


def _search_outputs(n: int, peak_sign: str):
    """The compiled searches' mode for ``peak_sign`` and their (zeroed) channel, lag and sign outputs."""
    modes = {"neg": 0, "pos": 1, "both": 2}
    if peak_sign not in modes:
        raise ValueError(f"peak_sign must be 'neg', 'pos' or 'both', not {peak_sign!r}")
    return modes[peak_sign], np.zeros(n, dtype=np.int64), np.zeros(n, dtype=np.int64), np.ones(n, dtype="float32")


def peak_search_traces(traces: np.ndarray, times: np.ndarray, rows: np.ndarray, mask: np.ndarray, peak_sign: str,
                       terms=None, starts: np.ndarray | None = None):
    """:func:`peak_search` of the traces' rows ``times`` (plus each spike's ``terms``), without copying them all first.

    Parameters
    ----------
    traces : np.ndarray, shape (num_samples, num_channels), float32
    times : np.ndarray, shape (num_spikes, num_lags)
        Rows of the traces searched for each spike (inside the traces).
    rows, mask, peak_sign
        As :func:`peak_search`.
    terms : TemplateTerms | None, default: None
        Templates added to spike ``i``'s rows as if its row ``j`` were trace sample ``starts[i] + j``.
    starts : np.ndarray | None, shape (num_spikes,)
        Needed with ``terms``.

    Returns
    -------
    channel, lag, sign
        As :func:`peak_search` of ``traces[times]`` with the terms added (:meth:`TemplateTerms.add_to`).
    """
    n = times.shape[0]
    mode, chan, lag, sign = _search_outputs(n, peak_sign)
    if terms is None:
        none, weights = np.zeros(0, dtype=np.int64), np.zeros(0, dtype="float32")
        term_args = (none, none, np.zeros(1, dtype=np.int64), none, none, weights, np.zeros((0, 0, 0), "float32"), 0)
    else:
        if starts is None:
            raise ValueError("terms need the start of each spike's rows")
        term_args = (np.ascontiguousarray(starts, dtype=np.int64), np.arange(n, dtype=np.int64), terms.start,
                     terms.time, terms.unit, terms.weight, terms.templates, terms.nbefore)
    mask = np.ascontiguousarray(mask, dtype=np.bool_)
    if not mask.flags.writeable:  # a shared layout: one numba signature (load_kernels) instead of two
        mask = mask.copy()
    _peak_search_traces(np.ascontiguousarray(traces, dtype="float32"), np.ascontiguousarray(times, dtype=np.int64),
                        np.ascontiguousarray(rows, dtype=np.int64), mask, mode, *term_args, chan, lag, sign)
    return chan, lag, sign


def load_kernels() -> None:
    """Compile (or load from numba's cache) every loop here for the types the localizer uses.

    Called where a pipeline node is built, so that worker processes forked from there inherit the
    machine code instead of each loading it again.
    """
    from .collisions import TemplateTerms  # collisions imports this module

    values = np.zeros((1, 1, 2), dtype="float32")
    rows, channels = np.zeros(1, dtype=np.int64), np.zeros((1, 1), dtype=np.int64)
    traces = np.zeros((2, 1), dtype="float32")
    finish_examples(values, rows, np.ones(1, dtype="float32"), channels, 2, 0, 1)
    start, empty, weights = np.zeros(2, dtype=np.int64), np.zeros(0, dtype=np.int64), np.zeros(0, dtype="float32")
    for writeable in (True, False):  # traces and templates may be read-only (memory-mapped): another signature
        traces.flags.writeable = writeable
        gather_windows(traces, rows, channels, 2)
        templates = values.copy()
        templates.flags.writeable = writeable
        add_terms_all_channels(values, rows, rows, start, empty, empty, weights, templates, 0)
        add_terms_slots(values, rows, rows, channels, start, empty, empty, weights, templates, 0)
        terms = TemplateTerms.from_pairs(1, empty, empty, empty, weights, templates, 0, templates_by_channel=templates)
        for with_terms in (None, terms):
            cut_projected(traces, rows, np.ones(1, dtype="float32"), channels, np.zeros((1, 2), dtype="float32"), 0,
                          1, with_terms, rows)
            cut_projected_with_jitter(traces, rows, np.ones(1, dtype="float32"), rows, channels,
                                      np.zeros((1, 2), dtype="float32"), 0, 1, 0, 10.0, 1, with_terms)
        least_squares_scales(traces, empty, empty, empty, np.zeros((1, 2), dtype="float32"), np.zeros(0))
        for with_terms in (None, terms):
            for mode in ("neg", "both"):
                peak_search_traces(traces, channels, rows, np.ones((1, 1), dtype=bool), mode, with_terms, rows)
    mask = np.ones((1, 2), dtype=bool)
    for writeable in (True, False):  # the recording's candidate mask is shared read-only (recording_layout)
        mask.flags.writeable = writeable
        for mode in ("neg", "both"):
            peak_search(values, rows, mask, mode)
