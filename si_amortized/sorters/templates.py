"""Mean waveforms of sorted spikes, summed in chunk order so that the result does not depend on ``n_jobs``.

SpikeInterface's ``estimate_templates_with_accumulator`` sums waveforms in float32, one buffer per worker,
and which worker reads which chunk changes from run to run: with ``n_jobs > 1`` its templates differ in the
last bits between runs, and template matching, which compares residuals against thresholds, then finds a
few different spikes (19,813 against 19,808 in two identical runs on a MEArec recording). Here every chunk
returns its per-unit sums in float64 to the main process, which adds them in chunk order.
"""

from __future__ import annotations

import numpy as np

__all__ = ["estimate_templates_in_chunk_order"]


def _init_worker(recording, spikes, nbefore, nafter, sparsity_mask):
    segment_bounds = [
        np.searchsorted(spikes["segment_index"], [s, s + 1]) for s in range(recording.get_num_segments())
    ]
    return dict(recording=recording, spikes=spikes, nbefore=nbefore, nafter=nafter, sparsity_mask=sparsity_mask,
                segment_bounds=segment_bounds)


def _chunk_sums(segment_index, start_frame, end_frame, worker_dict):
    """Per-unit float64 sums of the sparse waveforms of the spikes whose sample lies in the chunk."""
    recording, nbefore, nafter = worker_dict["recording"], worker_dict["nbefore"], worker_dict["nafter"]
    mask = worker_dict["sparsity_mask"]
    s0, s1 = worker_dict["segment_bounds"][segment_index]
    in_segment = worker_dict["spikes"][s0:s1]
    i0, i1 = np.searchsorted(in_segment["sample_index"], [start_frame, end_frame])
    if i1 == i0:
        return np.zeros(0, "int64"), np.zeros((0, nbefore + nafter, 0))
    chunk = in_segment[i0:i1]
    num_samples = recording.get_num_samples(segment_index=segment_index)
    first = int(chunk["sample_index"][0]) - nbefore
    last = int(chunk["sample_index"][-1]) + nafter
    traces = recording.get_traces(
        start_frame=max(first, 0), end_frame=min(last, num_samples), segment_index=segment_index, return_in_uV=False
    )
    # zeros where a window runs past the segment's edges, as SpikeInterface's accumulator does
    traces = np.pad(traces.astype("float64"), ((max(first, 0) - first, last - min(last, num_samples)), (0, 0)))
    offsets = chunk["sample_index"] - first - nbefore
    windows = offsets[:, None] + np.arange(nbefore + nafter)[None, :]
    units = np.unique(chunk["unit_index"])
    width = int(mask.sum(axis=1).max())
    sums = np.zeros((units.size, nbefore + nafter, width))
    for row, unit in enumerate(units):
        channels = np.flatnonzero(mask[unit])
        mine = windows[chunk["unit_index"] == unit]
        sums[row, :, : channels.size] = traces[mine][:, :, channels].sum(axis=0)
    return units, sums


def estimate_templates_in_chunk_order(recording, spikes: np.ndarray, num_units: int, nbefore: int, nafter: int,
                                      sparsity_mask: np.ndarray, job_kwargs: dict) -> np.ndarray:
    """Sparse mean waveform of each unit, identical for every ``n_jobs``.

    Parameters
    ----------
    recording : BaseRecording
        Traces are read in the recording's own units (``return_in_uV=False``).
    spikes : np.ndarray, shape (num_spikes,)
        Spike vector (``sample_index``, ``unit_index``, ``segment_index``), sorted by segment then sample.
    num_units : int
        Units are ``0 .. num_units - 1`` (``unit_index``).
    nbefore, nafter : int
        Samples before and from the spike sample.
    sparsity_mask : np.ndarray, shape (num_units, num_channels), bool
        Channels of each unit.
    job_kwargs : dict
        SpikeInterface job kwargs; ``chunk_duration`` sets the summation order, ``n_jobs`` does not.

    Returns
    -------
    np.ndarray, shape (num_units, nbefore + nafter, max_channels), float32
        Unit ``u``'s template on its channels ``np.flatnonzero(sparsity_mask[u])``, in that order, zero-padded
        to the largest number of channels of any unit (SpikeInterface's sparse ``templates_array`` layout).
        Units without spikes are zero.
    """
    from spikeinterface.core.job_tools import TimeSeriesChunkExecutor, fix_job_kwargs

    sparsity_mask = np.asarray(sparsity_mask, dtype=bool)
    if sparsity_mask.shape != (num_units, recording.get_num_channels()):
        raise ValueError(
            f"sparsity_mask must have shape (num_units, num_channels) = {(num_units, recording.get_num_channels())}, "
            f"not {sparsity_mask.shape}"
        )
    order = np.lexsort((spikes["sample_index"], spikes["segment_index"]))
    if np.any(order != np.arange(spikes.size)):
        raise ValueError("spikes must be sorted by segment_index, then sample_index")
    width = int(sparsity_mask.sum(axis=1).max(initial=0))
    total = np.zeros((num_units, nbefore + nafter, width))

    def gather(result):
        units, sums = result
        if units.size:
            total[units, :, : sums.shape[2]] += sums

    job_kwargs = fix_job_kwargs(dict(job_kwargs))
    executor = TimeSeriesChunkExecutor(
        recording, _chunk_sums, _init_worker, (recording, spikes, nbefore, nafter, sparsity_mask),
        gather_func=gather, job_name="templates (chunk order)", **job_kwargs,
    )
    executor.run()
    counts = np.bincount(spikes["unit_index"], minlength=num_units)
    present = counts > 0
    total[present] /= counts[present, None, None]
    return total.astype("float32")
