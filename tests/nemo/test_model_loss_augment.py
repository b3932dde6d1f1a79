"""Encoders, CLIP loss against a naive reference, augmentations, training lowers the loss."""

import math

import numpy as np
import pytest
import torch

from si_amortized.nemo.augment import augment_acg, augment_waveform
from si_amortized.nemo.config import AugmentConfig, NemoConfig, TrainConfig, WaveformConfig
from si_amortized.nemo.fit import embed, fit_nemo
from si_amortized.model_store import read_record
from si_amortized.nemo.io import load_nemo_model, model_from_legacy_vector, save_nemo_model
from si_amortized.nemo.loss import clip_loss, retrieval_accuracy
from si_amortized.nemo.model import NemoModel


def _naive_clip(za, zw, tau):
    n = za.shape[0]
    total = 0.0
    for i in range(n):
        num = math.exp(float(za[i] @ zw[i]) / tau)
        den_a = sum(math.exp(float(za[i] @ zw[j]) / tau) for j in range(n))
        den_w = sum(math.exp(float(za[j] @ zw[i]) / tau) for j in range(n))
        total += math.log(num / den_a) + math.log(num / den_w)
    return -total / (2 * n)


def test_clip_loss_matches_naive_reference():
    g = torch.Generator().manual_seed(0)
    za = torch.nn.functional.normalize(torch.randn(7, 16, generator=g, dtype=torch.float64), dim=1)
    zw = torch.nn.functional.normalize(torch.randn(7, 16, generator=g, dtype=torch.float64), dim=1)
    for tau in (0.5, 0.1):
        assert float(clip_loss(za, zw, tau)) == pytest.approx(_naive_clip(za, zw, tau), rel=1e-10)
    # perfectly aligned pairs with tiny temperature: loss ~ 0, retrieval perfect
    assert float(clip_loss(za, za, 0.01)) < 1e-3
    assert retrieval_accuracy(za, za) == 1.0
    with pytest.raises(ValueError):
        clip_loss(za, zw[:3])


def test_model_shapes_and_unit_order_invariance():
    torch.manual_seed(0)
    model = NemoModel().eval()
    acg = torch.rand(6, 10, 101)
    wf = torch.randn(6, 1, 90)
    z_acg, z_wf = model(acg, wf)
    assert z_acg.shape == z_wf.shape == (6, 512)
    torch.testing.assert_close(z_acg.norm(dim=1), torch.ones(6))
    rep = model.representation(acg, wf)
    assert rep.shape == (6, 500)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    torch.testing.assert_close(model.representation(acg[perm], wf[perm]), rep[perm])
    # one unit alone gives the same as in a batch (eval mode, no batch coupling)
    torch.testing.assert_close(model.representation(acg[2:3], wf[2:3]), rep[2:3])
    with pytest.raises(ValueError):
        model(torch.rand(2, 10, 50), torch.randn(2, 1, 90))
    # multi-channel config changes the waveform encoder's input
    mc = NemoModel(NemoConfig(waveform=WaveformConfig(num_channels=9)))
    assert mc.waveform_encoder.fc1.in_features == 9 * 90


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


def _paired_data(n, seed=0):
    """Toy pairs: both modalities are noisy functions of a shared latent, so CLIP can align them."""
    rng = np.random.default_rng(seed)
    latent = rng.normal(size=(n, 4))
    lags = np.linspace(0, 1, 101)
    acg = np.abs(latent[:, :1, None] * np.sin(3 * lags)[None, None] + latent[:, 1:2, None] * lags) * np.ones((1, 10, 1))
    acg = acg + 0.05 * rng.random((n, 10, 101))
    t = np.linspace(-1, 2, 90)
    wf = -np.exp(-((t / (0.2 + 0.05 * np.abs(latent[:, 2:3]))) ** 2)) + 0.3 * latent[:, 3:4] * np.exp(-((t - 0.6) ** 2))
    return acg.astype(np.float32), wf[:, None, :].astype(np.float32)


def test_training_lowers_the_loss_and_is_seeded():
    acg, wf = _paired_data(96)
    cfg = TrainConfig(epochs=20, batch_size=32, eval_every=5, val_fraction=0.25, lr=2e-3, t0_epochs=100)
    model, hist = fit_nemo(acg, wf, train_config=cfg, seed=0, device=None, progress_bar=False)
    assert hist["train_loss"][-1] < hist["train_loss"][0] - 0.1
    assert len(hist["val_retrieval"]) == 4 and hist["best_epoch"] in hist["val_epoch"]
    assert not model.training
    model2, hist2 = fit_nemo(acg, wf, train_config=cfg, seed=0, device=None, progress_bar=False)
    np.testing.assert_allclose(hist["train_loss"], hist2["train_loss"], rtol=1e-5)
    rep = embed(model, acg, wf)
    assert rep.shape == (96, 500)
    np.testing.assert_allclose(embed(model2, acg, wf), rep, atol=1e-5)
    with pytest.raises(ValueError):
        fit_nemo(acg[:1], wf[:1], train_config=cfg, device=None, progress_bar=False)


def test_model_save_load_and_vector_round_trip(tmp_path):
    torch.manual_seed(3)
    model = NemoModel().eval()
    acg = np.random.default_rng(0).random((5, 10, 101)).astype(np.float32)
    wf = np.random.default_rng(1).normal(size=(5, 1, 90)).astype(np.float32)
    rep, proj = embed(model, acg, wf, projections=True)
    assert proj.shape == (5, 2, 512)
    path = save_nemo_model(model, tmp_path / "m.pt", metadata={"note": "test"})
    np.testing.assert_array_equal(embed(load_nemo_model(path), acg, wf), rep)
    assert read_record(path).metadata["record"] == {"note": "test"}
    # the flat vector of earlier extension folders still loads
    vec = torch.cat([v.reshape(-1).float() for v in model.state_dict().values()]).numpy()
    np.testing.assert_array_equal(embed(model_from_legacy_vector(vec, model.config.to_dict()), acg, wf), rep)
    with pytest.raises(ValueError):
        model_from_legacy_vector(vec[:-1], model.config)


@pytest.mark.gpu
def test_cuda_training_runs():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    acg, wf = _paired_data(64)
    model, hist = fit_nemo(acg, wf, train_config=TrainConfig(epochs=3, batch_size=32), device="cuda", progress_bar=False)
    assert np.isfinite(hist["train_loss"]).all()
    assert embed(model, acg, wf, device="cuda").shape == (64, 500)
