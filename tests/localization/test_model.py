"""Localizer model (encoder, amplitude models, serialisation) against naive references."""

import math

import numpy as np
import pytest
import torch

from si_amortized.localization import VaeLocalizer, exponential_decay_amplitudes
from si_amortized.localization.fit import load_localizer, save_localizer
from si_amortized.localization.model import (
    AMPLITUDE_MODELS,
    amplitude_basis,
    amplitude_weights,
    least_squares_coefficients,
)
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


def test_eval_encoder_with_batchnorm_folded_matches_the_layers_one_by_one():
    torch.manual_seed(0)
    encoder = _model().encoder
    encoder.train()
    for _ in range(5):  # running statistics away from their initial 0 / 1
        encoder(torch.randn(64, encoder.body[0].in_features) * 3.0 + 1.0)
    with torch.no_grad():  # and affine BatchNorm parameters that are not the identity
        for module in encoder.body:
            if isinstance(module, torch.nn.BatchNorm1d):
                module.weight.uniform_(0.5, 2.0)
                module.bias.uniform_(-1.0, 1.0)
    encoder.eval()
    x = torch.randn(32, encoder.body[0].in_features) * 3.0 + 1.0
    with torch.no_grad():
        mean, var = encoder(x)  # the folded path
        h = encoder.body(x)  # Linear -> BatchNorm -> ReLU, one module after another
        torch.testing.assert_close(mean, encoder.mean_head(h), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(var, torch.nn.functional.softplus(encoder.var_head(h)) + 1e-6, rtol=1e-5, atol=1e-5)


def test_folded_layers_are_made_again_after_the_body_changes():
    """The folded weights are cached for inference: a training step, a loaded state or statistics updated in
    train mode must never leave an eval forward on stale weights."""
    torch.manual_seed(1)
    encoder = _model().encoder
    x = torch.randn(16, encoder.body[0].in_features)

    def check():
        encoder.eval()
        with torch.no_grad():
            got = encoder(x)[0]
            want = encoder.mean_head(encoder.body(x))
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
        return got

    first = check()
    assert check() is not first and torch.equal(check(), first)  # cached: the same figures again
    encoder.train()
    optimizer = torch.optim.SGD(encoder.parameters(), lr=0.5)
    encoder(x)[0].sum().backward()  # also moves the BatchNorm statistics
    optimizer.step()
    after_step = check()
    assert not torch.allclose(after_step, first)
    state = {k: v.clone() for k, v in encoder.state_dict().items()}
    with torch.no_grad():
        encoder.body[0].weight.mul_(2.0)
    assert not torch.allclose(check(), after_step)
    encoder.load_state_dict(state)
    torch.testing.assert_close(check(), after_step)
    with torch.enable_grad():  # eval forward under autograd: not cached, differentiable
        encoder.eval()
        encoder(x)[0].sum().backward()
    assert encoder.body[0].weight.grad is not None


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
    # components made elsewhere (the inference kernel) are read as they are; a wrong count is refused
    components = waveforms @ basis.T
    np.testing.assert_allclose(model.encoder_input(components, observed, amplitudes, projected=True).numpy(), naive,
                               rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="components"):
        model.encoder_input(waveforms, observed, amplitudes, projected=True)


def test_round_trip_keeps_the_temporal_basis():
    model = VaeLocalizer(np.zeros((9, 2)), 20, np.ones(3), hidden_sizes=(16, 8), temporal_components=4)
    with torch.no_grad():
        model.temporal_basis.copy_(torch.linalg.qr(torch.randn(20, 4)).Q.T)
    model.eval()
    clone = _round_trip(model)
    torch.testing.assert_close(clone.temporal_basis, model.temporal_basis)
    x = (torch.randn(4, 9, 20), torch.ones(4, 9), torch.rand(4, 9) * 50)
    torch.testing.assert_close(model(*x), clone(*x))


def test_files_saved_before_the_amplitude_models_load(tmp_path):
    model = _model().eval()
    x = (torch.randn(4, 9, 20), torch.ones(4, 9), torch.rand(4, 9) * 50)
    old_keys = ("log_decay_length", "posterior_std_scale", "posterior_std_floor")
    state = {k: v for k, v in model.state_dict().items() if k not in old_keys}
    arch = {k: v for k, v in model.architecture().items() if k not in ("amplitude_model", "learn_decay_length")}
    torch.save({"architecture": arch, "state_dict": state}, tmp_path / "old.pt")
    old = load_localizer(tmp_path / "old.pt")
    assert old.amplitude_model == "exponential" and not old.learn_decay_length
    assert torch.all(old.posterior_std_scale == 1) and torch.all(old.posterior_std_floor == 0)
    torch.testing.assert_close(model(*x), old(*x))


# ---------------------------------------------------------------- amplitude models

def _grid_offsets(step=15.0, n=5):
    axis = (np.arange(n) - n // 2) * step
    return torch.tensor(np.stack(np.meshgrid(axis, axis), -1).reshape(-1, 2), dtype=torch.float64)


def test_monopole_amplitude_in_closed_form_recovers_a_known_source():
    offsets = _grid_offsets()
    source = torch.tensor([[7.0, -4.0, 22.0]], dtype=torch.float64)
    r = torch.sqrt(((offsets - source[:, :2]) ** 2).sum(1) + source[0, 2] ** 2 + 1.0)
    amplitudes = (3000.0 / r)[None]
    weights = torch.ones_like(amplitudes)
    basis = amplitude_basis(source, offsets, "monopole")
    coef = least_squares_coefficients(basis, amplitudes, weights, ridge=0.0)
    assert abs(float(coef[0, 0]) - 3000.0) < 1e-6
    # the least-squares residual, minimised over candidate sources on a grid, is zero at the true source only
    xs = torch.arange(-20.0, 21.0, 1.0, dtype=torch.float64)
    cand = torch.stack(torch.meshgrid(xs, xs, torch.arange(5.0, 41.0, 1.0, dtype=torch.float64), indexing="ij"), -1)
    cand = cand.reshape(-1, 3)
    b = amplitude_basis(cand, offsets, "monopole")
    c = least_squares_coefficients(b, amplitudes.expand(cand.shape[0], -1), weights.expand(cand.shape[0], -1))
    residual = ((amplitudes - (b * c[:, None, :]).sum(2)) ** 2).sum(1)
    torch.testing.assert_close(cand[residual.argmin()], source[0])


def test_least_squares_matches_numpy_with_weights_and_masked_channels():
    rng = np.random.default_rng(3)
    basis = rng.normal(size=(6, 25, 4))
    target = rng.normal(size=(6, 25))
    weights = rng.uniform(0.1, 2.0, size=(6, 25)) * (rng.random((6, 25)) > 0.2)
    got = least_squares_coefficients(torch.tensor(basis), torch.tensor(target), torch.tensor(weights), ridge=0.0)
    for n in range(6):
        sw = np.sqrt(weights[n])
        ref = np.linalg.lstsq(basis[n] * sw[:, None], target[n] * sw, rcond=None)[0]
        np.testing.assert_allclose(got[n].numpy(), ref, rtol=1e-8, atol=1e-10)
    # one coefficient: a source amplitude is never negative
    one = least_squares_coefficients(torch.ones(2, 5, 1, dtype=torch.float64), -torch.ones(2, 5, dtype=torch.float64),
                                     torch.ones(2, 5, dtype=torch.float64))
    assert torch.all(one == 0)


def test_dipole_basis_symmetry_and_its_monopole_part():
    offsets = _grid_offsets()
    source = torch.tensor([[3.0, 5.0, 18.0]], dtype=torch.float64)
    dip = amplitude_basis(source, offsets, "dipole")
    mono = amplitude_basis(source, offsets, "monopole")
    assert dip.shape == (1, 25, 4)
    torch.testing.assert_close(dip[..., :1], mono)  # p = 0 is the monopole
    # reflecting the channels through the source (in the plane) keeps 1/r and flips the in-plane dipole terms
    mirrored = 2 * source[:, :2] - offsets
    dip_m = amplitude_basis(source, mirrored, "dipole")
    torch.testing.assert_close(dip_m[..., 0], dip[..., 0])
    torch.testing.assert_close(dip_m[..., 1:3], -dip[..., 1:3])
    torch.testing.assert_close(dip_m[..., 3], dip[..., 3])
    # a pure dipole field is recovered exactly, with its moment
    moment = torch.tensor([[0.0, 400.0, -300.0, 900.0]], dtype=torch.float64)
    amplitudes = (dip * moment[:, None, :]).sum(2)
    coef = least_squares_coefficients(dip, amplitudes, torch.ones_like(amplitudes), ridge=0.0)
    torch.testing.assert_close(coef, moment)


def test_learned_profile_is_monotone_starts_at_one_and_starts_as_the_exponential():
    model = VaeLocalizer(_grid_offsets(n=3).numpy(), 20, np.ones(3), hidden_sizes=(8,), amplitude_model="learned",
                         decay_length_um=28.0)
    r = np.linspace(0.0, 300.0, 301)
    np.testing.assert_allclose(model.amplitude_profile(r), np.exp(-r / 28.0), rtol=1e-5, atol=1e-12)
    with torch.no_grad():
        model.profile_slopes.copy_(torch.randn_like(model.profile_slopes) * 3)
    f = model.amplitude_profile(r)
    assert f[0] == pytest.approx(1.0) and np.all(np.diff(f) <= 0)
    # a naive piecewise integral of the slopes gives the same profile
    knots = model.profile_knots.numpy().astype(float)
    slopes = np.log1p(np.exp(model.profile_slopes.detach().numpy().astype(float)))
    naive = []
    for d in r:
        total = 0.0
        for k in range(len(knots)):
            upper = knots[k + 1] if k + 1 < len(knots) else np.inf
            total += slopes[k] * max(min(d, upper) - knots[k], 0.0)
        naive.append(np.exp(-total))
    np.testing.assert_allclose(f, naive, rtol=1e-4, atol=1e-12)
    model.reset_amplitude_model()
    np.testing.assert_allclose(model.amplitude_profile(r), np.exp(-r / 28.0), rtol=1e-5, atol=1e-12)


@pytest.mark.parametrize("amplitude_model", AMPLITUDE_MODELS)
def test_every_amplitude_model_decodes_and_round_trips(amplitude_model):
    model = VaeLocalizer(_grid_offsets(n=3).numpy(), 20, np.ones(3), hidden_sizes=(8,), amplitude_model=amplitude_model)
    model.eval()
    loc = torch.tensor([[1.0, 2.0, 20.0], [-5.0, 0.0, 35.0]])
    amps = torch.rand(2, 9) * 100
    predicted = model.decode(loc, amplitudes=amps, weights=torch.ones(2, 9))
    assert predicted.shape == (2, 9) and torch.isfinite(predicted).all()
    clone = _round_trip(model)
    assert clone.amplitude_model == amplitude_model
    torch.testing.assert_close(clone.decode(loc, amplitudes=amps, weights=torch.ones(2, 9)), predicted)
    if amplitude_model == "dipole":
        with pytest.raises(ValueError, match="one-coefficient"):
            model.decode(loc, log_a=torch.zeros(2))


def test_exponential_decoder_with_log_a_is_the_paper_formula():
    model = VaeLocalizer(_grid_offsets(n=3).numpy(), 20, np.ones(3), hidden_sizes=(8,))
    loc, log_a = torch.tensor([[4.0, -3.0, 12.0]]), torch.tensor([5.0])
    expected = exponential_decay_amplitudes(loc, model.offsets, log_a, 28.0)
    torch.testing.assert_close(model.decode(loc, log_a=log_a), expected, rtol=1e-4, atol=1e-4)


def test_amplitude_weights_are_inverse_variances():
    amps = torch.tensor([[0.0, 10.0, 100.0]])
    obs = torch.tensor([[1.0, 1.0, 0.0]])
    w = amplitude_weights(amps, obs, noise_uv=5.0, noise_fraction=0.2)
    torch.testing.assert_close(w, torch.tensor([[1 / 25.0, 1 / (25.0 + 4.0), 0.0]]))


def test_posterior_std_scale_multiplies_the_reported_standard_deviation():
    model = _model().eval()
    x = (torch.randn(4, 9, 20), torch.ones(4, 9), torch.rand(4, 9) * 50)
    mean, var = model(*x)
    with torch.no_grad():
        model.posterior_std_scale.copy_(torch.tensor([2.0, 1.0, 3.0]))
    mean2, var2 = model(*x)
    torch.testing.assert_close(mean2, mean)
    torch.testing.assert_close(var2, var * torch.tensor([4.0, 1.0, 9.0]))
    torch.testing.assert_close(_round_trip(model)(*x)[1], var2)


def test_posterior_std_floor_adds_in_quadrature_and_survives_a_round_trip():
    model = _model().eval()
    x = (torch.randn(4, 9, 20), torch.ones(4, 9), torch.rand(4, 9) * 50)
    mean, var = model(*x)
    with torch.no_grad():
        model.posterior_std_scale.copy_(torch.tensor([2.0, 1.0, 1.0]))
        model.posterior_std_floor.copy_(torch.tensor([3.0, 0.0, 5.0]))
    mean2, var2 = model(*x)
    torch.testing.assert_close(mean2, mean)
    torch.testing.assert_close(var2, var * torch.tensor([4.0, 1.0, 1.0]) + torch.tensor([9.0, 0.0, 25.0]))
    torch.testing.assert_close(_round_trip(model)(*x)[1], var2)
