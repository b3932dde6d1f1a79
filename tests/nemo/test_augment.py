"""Augmentations of ACG images and waveforms: shapes, non-negativity, each augmentation alone."""

import torch

from si_amortized.nemo.augment import augment_acg, augment_waveform
from si_amortized.nemo.config import AugmentConfig


def test_augmentations_keep_shapes_and_non_negativity():
    g = torch.Generator().manual_seed(1)
    acg = torch.rand(64, 10, 101, generator=g)
    out = augment_acg(acg, AugmentConfig(), g)
    assert out.shape == acg.shape and bool((out >= 0).all())
    assert not torch.equal(out, acg)
    # probability 0 everywhere = identity; smoothing alone keeps the mass of each row (replicate padding aside)
    none = AugmentConfig(p_smooth=0, p_jitter=0, p_scale=0, p_acg_noise=0, p_pepper=0, p_wf_noise=0, p_amp_jitter=0, p_dropout=0)
    assert torch.equal(augment_acg(acg, none, g), acg)
    flat = torch.ones(4, 10, 101)
    smooth_only = AugmentConfig(p_smooth=1, p_jitter=0, p_scale=0, p_acg_noise=0, p_pepper=0)
    torch.testing.assert_close(augment_acg(flat, smooth_only, g), flat)
    # scaling only: ratio within [0.9, 1.1], one factor per example
    scale_only = AugmentConfig(p_smooth=0, p_jitter=0, p_scale=1, p_acg_noise=0, p_pepper=0)
    ratio = augment_acg(acg, scale_only, g) / acg
    assert bool(((ratio >= 0.9 - 1e-6) & (ratio <= 1.1 + 1e-6)).all())
    torch.testing.assert_close(ratio.amax(dim=(1, 2)), ratio.amin(dim=(1, 2)))
    # jitter only: each row is a shifted copy (interior values preserved)
    jit_only = AugmentConfig(p_smooth=0, p_jitter=1, p_scale=0, p_acg_noise=0, p_pepper=0)
    ramp = torch.arange(101.0).repeat(3, 10, 1)
    shifted = augment_acg(ramp, jit_only, g)
    d = (ramp - shifted)[:, :, 10:90]
    assert bool((d == d[:, :1, :1]).all()) and bool((d.abs() <= 3).all())
    # waveforms
    wf = torch.randn(64, 1, 90, generator=g)
    assert augment_waveform(wf, AugmentConfig(), g).shape == wf.shape
    assert torch.equal(augment_waveform(wf, none, g), wf)
    mc = torch.randn(64, 9, 90, generator=g)
    out = augment_waveform(mc, AugmentConfig(p_dropout=0.5), g)
    assert out.shape == mc.shape
    assert bool((out[:, 0] != 0).all())  # the peak channel is never dropped
    assert bool((out[:, 1:] == 0).all(dim=-1).any())
