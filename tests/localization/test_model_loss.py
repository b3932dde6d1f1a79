"""Model and loss against naive reference implementations."""

import math

import numpy as np
import torch

from si_amortized.localization import (
    VaeLocalizer,
    exponential_decay_amplitudes,
    gaussian_kl_to_prior,
    masked_squared_error,
    negative_elbo,
)
from si_amortized.localization.fit import load_localizer, save_localizer
from si_amortized.model_store import from_record, record_from_extension_data, record_to_extension_data, to_record


def _round_trip(model):
    return from_record(record_from_extension_data(record_to_extension_data(to_record(model))))


def test_decay_matches_naive_loop():
    rng = np.random.default_rng(0)
    loc = rng.normal(0, 20, (5, 3))
    offsets = rng.normal(0, 20, (7, 2))
    log_a = rng.uniform(3, 6, 5)
    got = exponential_decay_amplitudes(
        torch.tensor(loc), torch.tensor(offsets), torch.tensor(log_a), 28.0
    ).numpy()
    for i in range(5):
        for k in range(7):
            r = math.sqrt((loc[i, 0] - offsets[k, 0]) ** 2 + (loc[i, 1] - offsets[k, 1]) ** 2 + loc[i, 2] ** 2)
            assert abs(got[i, k] - math.exp(log_a[i]) * math.exp(-r / 28.0)) < 1e-6 * math.exp(log_a[i])


def test_losses_match_naive_formulas():
    rng = np.random.default_rng(1)
    target, pred = rng.normal(size=(4, 6)), rng.normal(size=(4, 6))
    obs = (rng.random((4, 6)) > 0.3).astype(float)
    mean, var = rng.normal(0, 30, (4, 3)), rng.uniform(0.5, 50, (4, 3))
    naive_mse = np.mean([sum(obs[i, k] * (target[i, k] - pred[i, k]) ** 2 for k in range(6)) for i in range(4)])
    got = masked_squared_error(torch.tensor(target), torch.tensor(pred), torch.tensor(obs))
    assert abs(float(got) - naive_mse) < 1e-9
    s0 = 80.0
    naive_kl = np.mean(
        [
            sum(math.log(s0 / math.sqrt(var[i, d])) + (var[i, d] + mean[i, d] ** 2) / (2 * s0**2) - 0.5 for d in range(3))
            for i in range(4)
        ]
    )
    got_kl = gaussian_kl_to_prior(torch.tensor(mean), torch.tensor(var), s0)
    assert abs(float(got_kl) - naive_kl) < 1e-9
    # a masked axis does not contribute
    mask = torch.tensor([1.0, 0.0, 1.0])
    naive_masked = np.mean(
        [
            sum(math.log(s0 / math.sqrt(var[i, d])) + (var[i, d] + mean[i, d] ** 2) / (2 * s0**2) - 0.5 for d in (0, 2))
            for i in range(4)
        ]
    )
    assert abs(float(gaussian_kl_to_prior(torch.tensor(mean), torch.tensor(var), s0, mask)) - naive_masked) < 1e-9
    total = negative_elbo(torch.tensor(target), torch.tensor(pred), torch.tensor(obs), torch.tensor(mean), torch.tensor(var), s0)
    assert abs(float(total) - naive_mse - naive_kl) < 1e-9
    # KL is zero at the prior
    assert abs(float(gaussian_kl_to_prior(torch.zeros(2, 3), torch.full((2, 3), s0**2), s0))) < 1e-9


def _model():
    offsets = np.stack(np.meshgrid([-15.0, 0.0, 15.0], [-15.0, 0.0, 15.0]), -1).reshape(-1, 2)
    return VaeLocalizer(offsets, 20, np.array([1.0, 0.0, 1.0]), metadata={"feature_config": {}})


def test_encoder_architecture_and_heads():
    model = _model()
    layers = list(model.encoder.body)
    kinds = [type(m).__name__ for m in layers]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Linear", "BatchNorm1d", "ReLU"]
    assert layers[0].in_features == 9 * 21 and layers[0].out_features == 500 and layers[3].out_features == 250
    assert all(float(m.bias.detach().abs().sum()) == 0 for m in model.modules() if isinstance(m, torch.nn.Linear))
    model.eval()
    wf, obs, amps = torch.randn(8, 9, 20), torch.ones(8, 9), torch.rand(8, 9) * 100
    mean, var = model(wf, obs, amps)
    assert mean.shape == (8, 3) and torch.all(var > 0)
    assert torch.all(mean[:, 1] == 0)  # fixed axis of a 1D layout
    # normalised input: scaling a spike does not move it (encoder is amplitude-invariant)
    mean2, _ = model(3.0 * wf, obs, 3.0 * amps)
    torch.testing.assert_close(mean, mean2, rtol=1e-4, atol=1e-4)


def test_serialisation_round_trip(tmp_path):
    model = _model().eval()
    x = (torch.randn(4, 9, 20), torch.ones(4, 9), torch.rand(4, 9) * 50)
    clone = _round_trip(model)
    torch.testing.assert_close(model(*x), clone(*x))
    path = save_localizer(model, tmp_path / "m.pt")
    torch.testing.assert_close(model(*x), load_localizer(path)(*x))
    save_localizer(model, tmp_path)
    torch.testing.assert_close(model(*x), load_localizer(tmp_path)(*x))
    assert load_localizer(model) is model
    # files of earlier versions (torch.save of architecture + state dict) still load
    legacy = tmp_path / "legacy.pt"
    torch.save({"architecture": model.architecture(), "state_dict": model.state_dict()}, legacy)
    torch.testing.assert_close(model(*x), load_localizer(legacy)(*x))


def test_temporal_basis_spans_the_waveforms_and_encoder_input_matches_naive():
    from si_amortized.localization.model import temporal_basis_from_waveforms

    rng = np.random.default_rng(1)
    num_samples, rank = 20, 3
    shapes = rng.normal(size=(rank, num_samples))
    waveforms = torch.tensor(rng.normal(size=(50, 9, rank)) @ shapes, dtype=torch.float32)  # rank-3 waveforms
    observed = torch.tensor(rng.uniform(size=(50, 9)) > 0.2, dtype=torch.float32)
    basis = temporal_basis_from_waveforms(waveforms, observed, 5)
    assert basis.shape == (5, num_samples)
    torch.testing.assert_close(basis @ basis.T, torch.eye(5), atol=1e-5, rtol=0)  # orthonormal rows
    projector = basis[:rank].T @ basis[:rank]  # the 3 leading components span the waveforms exactly
    torch.testing.assert_close(waveforms @ projector, waveforms, atol=1e-4, rtol=1e-4)

    model = VaeLocalizer(np.zeros((9, 2)), num_samples, np.ones(3), hidden_sizes=(8,), temporal_components=5)
    model.temporal_basis.copy_(basis)
    amplitudes = torch.rand(50, 9) * 80 + 1
    got = model.encoder_input(waveforms, observed, amplitudes)
    naive = np.zeros((50, 9 * 5 + 9), dtype="float32")
    for e in range(50):
        scale = max(float(amplitudes[e].max()), 1.0)
        for k in range(9):
            naive[e, k * 5 : (k + 1) * 5] = (basis.numpy() @ waveforms[e, k].numpy()) / scale
        naive[e, 45:] = observed[e].numpy()
    np.testing.assert_allclose(got.numpy(), naive, rtol=1e-4, atol=1e-5)


def test_round_trip_keeps_the_temporal_basis():
    model = VaeLocalizer(np.zeros((9, 2)), 20, np.ones(3), hidden_sizes=(16, 8), temporal_components=4)
    with torch.no_grad():
        model.temporal_basis.copy_(torch.linalg.qr(torch.randn(20, 4)).Q.T)
    model.eval()
    clone = _round_trip(model)
    torch.testing.assert_close(clone.temporal_basis, model.temporal_basis)
    x = (torch.randn(4, 9, 20), torch.ones(4, 9), torch.rand(4, 9) * 50)
    torch.testing.assert_close(model(*x), clone(*x))
