"""MEArec's band-pass filter on templates and noise."""

import numpy as np

from si_amortized.datasets.filtering import band_pass, band_pass_templates, band_passed_noise

FS = 30_000.0


def _spiky_templates(num, num_samples=90, num_channels=4, seed=0):
    rng = np.random.default_rng(seed)
    t = np.arange(num_samples) / FS
    shape = -np.exp(-(((t - 1e-3) / 2e-4) ** 2)) + 0.3 * np.exp(-(((t - 1.6e-3) / 4e-4) ** 2))
    gains = rng.uniform(20, 100, size=(num, 1, num_channels))
    return (shape[None, :, None] * gains).astype("float32")


def test_band_pass_keeps_the_spike_and_removes_slow_signals():
    templates = _spiky_templates(3)
    filtered = band_pass_templates(templates, FS)
    assert filtered.shape == templates.shape and filtered.dtype == np.float32
    t = np.arange(3000) / FS
    slow = np.sin(2 * np.pi * 30.0 * t)[None, :, None] * np.ones((1, 1, 2))
    assert np.abs(band_pass_templates(slow, FS)[:, 1000:2000]).max() < 0.1  # 30 Hz is outside the band
    # the trough stays on the same channel and within a few samples
    for raw, f in zip(templates, filtered):
        assert np.argmin(raw.min(axis=0)) == np.argmin(f.min(axis=0))
        assert abs(int(np.argmin(raw.min(axis=1))) - int(np.argmin(f.min(axis=1)))) <= 3


def test_band_passed_noise_has_unit_std_and_the_band_spectrum():
    noise = band_passed_noise(np.random.default_rng(0), 60_000, 3, FS)
    np.testing.assert_allclose(noise.std(axis=0), 1.0, rtol=1e-5)
    spectrum = np.abs(np.fft.rfft(noise[:, 0])) ** 2
    freqs = np.fft.rfftfreq(noise.shape[0], 1 / FS)
    inside = spectrum[(freqs > 1000) & (freqs < 3000)].mean()
    assert spectrum[freqs < 50].mean() < 0.01 * inside and spectrum[freqs > 12_000].mean() < 0.01 * inside
    # the same filter as band_pass: filtering again changes little inside the band
    assert np.corrcoef(band_pass(noise[:, 0], 0, FS), noise[:, 0])[0, 1] > 0.95
