"""Waveform normalization: sampling-rate independence, sign flip, baseline, peak channel, multi-channel."""

import numpy as np
import pytest

from si_amortized.nemo.config import WaveformConfig
from si_amortized.nemo.waveforms import nearest_channels, normalize_templates


def _analytic(t_ms):
    return -np.exp(-((t_ms / 0.15) ** 2)) + 0.35 * np.exp(-(((t_ms - 0.45) / 0.3) ** 2))


def _template(fs, shift_ms=0.0, gain=80.0, offset=0.0, n_channels=4, peak_channel=2):
    n = int(round(4e-3 * fs))
    nbefore = int(round(1.5e-3 * fs))
    t = (np.arange(n) - nbefore) / fs * 1000 - shift_ms
    tmpl = np.zeros((n, n_channels))
    for c in range(n_channels):
        tmpl[:, c] = gain * _analytic(t) * (1.0 if c == peak_channel else 0.3 / (1 + abs(c - peak_channel)))
    return tmpl + offset, nbefore


@pytest.mark.parametrize("fs", [20_000.0, 24_000.0, 32_000.0, 48_000.0])
def test_same_waveform_whatever_the_sampling_rate(fs):
    ref_t, ref_nb = _template(30_000.0)
    ref = normalize_templates(ref_t[None], 30_000.0, ref_nb)
    t, nb = _template(fs)
    out = normalize_templates(t[None], fs, nb)
    assert out.shape == (1, 1, 90)
    np.testing.assert_allclose(out, ref, atol=0.02)
    # the naive expectation: the analytic shape on the 30 kHz grid, -1 at the peak
    grid = -1.0 + np.arange(90) / 30.0
    expected = _analytic(grid)
    expected = expected - np.median(expected[:30])
    expected /= abs(expected[30])
    np.testing.assert_allclose(out[0, 0], expected, atol=0.02)
    assert out[0, 0, 30] == pytest.approx(-1.0, abs=1e-6)


def test_positive_peak_offset_gain_and_shift_do_not_matter():
    fs = 30_000.0
    t, nb = _template(fs)
    ref = normalize_templates(t[None], fs, nb)
    flipped, _ = _template(fs, gain=-250.0, offset=17.0)
    shifted, _ = _template(fs, shift_ms=0.4)
    out = normalize_templates(np.stack([flipped, shifted]), fs, nb)
    np.testing.assert_allclose(out[0], ref[0], atol=1e-4)
    np.testing.assert_allclose(out[1], ref[0], atol=1e-3)


def test_peak_channel_and_neighbours():
    fs = 30_000.0
    t, nb = _template(fs, peak_channel=1, n_channels=4)
    locs = np.array([[0, 0], [0, 20], [0, 40], [0, 60]], float)
    out = normalize_templates(t[None], fs, nb, WaveformConfig(num_channels=3), channel_locations=locs)
    assert out.shape == (1, 3, 90)
    assert out[0, 0, 30] == pytest.approx(-1.0, abs=1e-6)
    # nearest channels: 1 (peak), then 0 and 2 at 20 um (ties by index)
    np.testing.assert_array_equal(nearest_channels(locs, np.array([1]), 3), [[1, 0, 2]])
    np.testing.assert_allclose(out[0, 1], out[0, 2], atol=1e-5)  # channels 0 and 2 are symmetric copies
    # asking for more channels than exist pads with zeros
    out5 = normalize_templates(t[None], fs, nb, WaveformConfig(num_channels=5), channel_locations=locs)
    assert not out5[0, 4].any()


def test_bad_templates():
    fs = 30_000.0
    zeros = np.zeros((2, 120, 3))
    out = normalize_templates(zeros, fs, 45)
    assert out.shape == (2, 1, 90) and not out.any()
    assert normalize_templates(np.zeros((0, 120, 3)), fs, 45).shape == (0, 1, 90)
    with pytest.raises(ValueError):
        normalize_templates(np.zeros((120, 3)), fs, 45)
    with pytest.raises(ValueError):
        normalize_templates(zeros, -1.0, 45)


def test_normalise_templates_is_a_deprecated_alias_of_normalize_templates():
    import si_amortized.nemo as nemo
    from si_amortized.nemo import waveforms

    fs = 30_000.0
    t, nb = _template(fs)
    expected = normalize_templates(t[None], fs, nb, WaveformConfig(num_channels=2), channel_locations=np.eye(4, 2))
    for module in (nemo, waveforms):
        assert "normalise_templates" in module.__all__ and "normalize_templates" in module.__all__
        with pytest.warns(DeprecationWarning, match="now normalize_templates"):
            out = module.normalise_templates(t[None], fs, nb, WaveformConfig(num_channels=2), channel_locations=np.eye(4, 2))
        np.testing.assert_array_equal(out, expected)
