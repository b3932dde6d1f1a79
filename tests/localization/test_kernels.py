"""The compiled example loops against their numpy definitions."""

import numpy as np

from si_amortized.localization.kernels import finish_examples, gather_windows


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
