import numpy as np
import pytest
import torch

from si_amortized.rollae import ExperimentalOptions, RollAE, RollAEConfig
from si_amortized.rollae.symmetry import axion_323_positions, layout_symmetries

SMALL = dict(embedding_dim=6, encoder_hidden=(16, 8), decoder_hidden=(8, 16), receptive_field=8, epochs=2, batch_size=8, seed=0)


def _wells(n=12, d=40, seed=0):
    rng = np.random.default_rng(seed)
    return rng.poisson(rng.uniform(0.05, 1.0, size=(n, 8, 1)), size=(n, 8, d)).astype(np.float32)


@pytest.fixture(scope="module")
def fitted():
    X = _wells()
    return RollAE(axion_323_positions(), **SMALL).fit(X), X


def test_fit_transform_shapes_and_history(fitted):
    model, X = fitted
    emb = model.transform(X)
    assert emb.shape == (12, 6) and np.all(np.isfinite(emb))
    assert len(model.history_) == 2
    assert model.symmetries_.shape == (4, 8)
    assert model.reconstruct(X[:2]).shape == (2, 8, 40)


def test_transform_exactly_invariant(fitted):
    model, X = fitted
    emb = model.transform(X)
    for g in layout_symmetries(axion_323_positions()):
        for shift in (3, 17):
            X2 = np.roll(X[:, g], shift, axis=-1)
            np.testing.assert_allclose(model.transform(X2), emb, atol=2e-5, rtol=1e-4)


def test_save_load_roundtrip(fitted, tmp_path):
    model, X = fitted
    model.save(tmp_path / "m")
    loaded = RollAE.load(tmp_path / "m")
    np.testing.assert_array_equal(loaded.transform(X), model.transform(X))
    assert loaded.config == model.config
    # a model saved before lr_schedule existed was trained with a constant learning rate
    meta, state = model.state()
    meta = dict(meta, config={k: v for k, v in meta["config"].items() if k != "lr_schedule"})
    old = RollAE.from_state(meta, state)
    assert old.config.lr_schedule == "constant"
    np.testing.assert_array_equal(old.transform(X), model.transform(X))
    with pytest.raises(FileNotFoundError):
        RollAE.load(tmp_path / "nothing")


def test_seeded_training_is_reproducible():
    X = _wells(8, 30)
    a = RollAE(axion_323_positions(), **SMALL).fit(X).transform(X)
    b = RollAE(axion_323_positions(), **SMALL).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


def test_training_reduces_the_loss():
    X = _wells(32, 30, seed=1)
    cfg = dict(SMALL, epochs=10, batch_size=16, learning_rate=3e-3)
    model = RollAE(axion_323_positions(), **cfg).fit(X)
    assert model.history_[-1] < 0.9 * model.history_[0]


def test_poisson_reconstruction_loss_fits_invariant_positive_rates():
    X = _wells(16, 30, seed=2)
    model = RollAE(axion_323_positions(), **dict(SMALL, experimental=ExperimentalOptions(reconstruction_loss="poisson"),
                                                 epochs=6, learning_rate=3e-3))
    model.fit(X)
    assert model.history_[-1] < model.history_[0]
    assert np.all(model.reconstruct(X[:3]) > 0)  # softplus rates
    g = layout_symmetries(axion_323_positions())[1]
    np.testing.assert_allclose(model.transform(np.roll(X[:, g], 7, axis=-1)), model.transform(X), atol=2e-5, rtol=1e-4)
    with pytest.raises(ValueError, match="reconstruction_loss"):
        ExperimentalOptions(reconstruction_loss="l1")


def test_research_options_moved_and_old_saved_models_load(tmp_path):
    # the old top-level keyword still works, with a DeprecationWarning, and lands in `experimental`
    with pytest.warns(DeprecationWarning, match="research options"):
        old_style = RollAE(axion_323_positions(), **dict(SMALL, input_scale="max"))
    assert old_style.config.experimental == ExperimentalOptions(input_scale="max")
    X = _wells(8, 30, seed=3)
    model = RollAE(axion_323_positions(), **dict(SMALL, epochs=1)).fit(X)
    meta, state = model.state()
    # a model saved before the options moved (research keys at the top level of its config)
    legacy = dict(meta, config={**{k: v for k, v in meta["config"].items() if k != "experimental"},
                                **meta["config"]["experimental"]})
    clone = RollAE.from_state(legacy, state)
    assert clone.config == model.config
    np.testing.assert_array_equal(clone.transform(X), model.transform(X))
    # JSON gives lists back for tuples: the config still compares equal
    assert RollAEConfig(encoder_hidden=[8, 6]) == RollAEConfig(encoder_hidden=(8, 6))


def test_wells_with_no_spikes(fitted):
    model, X = fitted
    emb = model.transform(np.zeros((2, 8, 40), np.float32))
    assert np.all(np.isfinite(emb))
    np.testing.assert_array_equal(emb[0], emb[1])
    with pytest.raises(ValueError, match="no spikes"):
        RollAE(axion_323_positions(), **SMALL).fit(np.zeros((4, 8, 40)))


def test_bad_inputs(fitted):
    model, X = fitted
    with pytest.raises(ValueError, match="electrode counts must match"):
        model.transform(X[:, :7])
    with pytest.raises(ValueError, match="electrode counts must match"):
        RollAE(axion_323_positions(), **SMALL).fit(X[:, :6])
    with pytest.raises(ValueError, match="bins"):
        model.transform(X[:, :, :30])
    with pytest.raises(ValueError, match="non-negative"):
        model.transform(-X)
    with pytest.raises(ValueError, match="finite"):
        bad = X.copy()
        bad[0, 0, 0] = np.nan
        model.transform(bad)
    pos = axion_323_positions()
    pos[2] = np.nan
    with pytest.raises(ValueError, match="position"):
        RollAE(pos)
    with pytest.raises(RuntimeError, match="not fitted"):
        RollAE(axion_323_positions()).transform(X)
    with pytest.raises(TypeError, match="unknown RollAE settings"):
        RollAE(axion_323_positions(), embeding_dim=3)
    with pytest.raises(ValueError, match="tau"):
        RollAEConfig(tau=0.0)


def test_without_positions_time_shifts_only():
    X = _wells(6, 20)
    model = RollAE(None, **SMALL).fit(X)
    assert model.symmetries_.shape == (1, 8)
    with pytest.raises(ValueError, match="electrode counts"):
        model.transform(X[:, :5])


@pytest.mark.gpu
def test_cuda_matches_cpu(fitted):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    model, X = fitted
    np.testing.assert_allclose(model.transform(X, device="cuda"), model.transform(X), atol=1e-4)
    gpu = RollAE(axion_323_positions(), **dict(SMALL, device="cuda")).fit(X)
    assert np.all(np.isfinite(gpu.transform(X)))


def test_pooled_features_invariant_and_contain_the_embedding(fitted):
    model, X = fitted
    pooled = model.transform(X, features="pooled")
    assert pooled.shape == (12, 16 + 8 + 6)
    np.testing.assert_allclose(pooled[:, -6:], model.transform(X), atol=1e-5)
    X2 = np.roll(X[:, model.symmetries_[1]], 9, axis=-1)
    np.testing.assert_allclose(model.transform(X2, features="pooled"), pooled, atol=2e-5, rtol=1e-4)
    with pytest.raises(ValueError):
        model.transform(X, features="hidden")


@pytest.mark.parametrize("schedule", ["constant", "cosine"])
def test_learning_rate_schedule_per_batch(monkeypatch, schedule):
    from si_amortized.rollae.model import RollAENet
    from si_amortized.rollae.train import train_rollae

    seen = []
    original_step = torch.optim.Adam.step

    def recording_step(self, *args, **kwargs):
        seen.append(self.param_groups[0]["lr"])
        return original_step(self, *args, **kwargs)

    monkeypatch.setattr(torch.optim.Adam, "step", recording_step)
    X = _wells(10, 30)
    net = RollAENet(8, 30, 4, encoder_hidden=(8,), decoder_hidden=(8,))
    train_rollae(net, X, epochs=3, batch_size=4, learning_rate=2e-3, lr_schedule=schedule, tau=0.2)
    total = 3 * 3  # 3 epochs x ceil(10 / 4) batches
    step = np.arange(total)
    expected = 2e-3 * (0.5 * (1 + np.cos(np.pi * step / total)) if schedule == "cosine" else np.ones(total))
    np.testing.assert_allclose(seen, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="lr_schedule"):
        train_rollae(net, X, epochs=1, batch_size=4, learning_rate=1e-3, lr_schedule="step")
    with pytest.raises(ValueError, match="lr_schedule"):
        RollAEConfig(lr_schedule="linear")


@pytest.mark.parametrize("tau, expected", [(0.02, 6), (0.001, 1), (1.0, None)])
def test_shift_sampling_rate(tau, expected):
    """Training draws max(1, round(tau * D)) distinct shifts per batch (a fresh draw each batch); tau = 1 uses all."""
    from si_amortized.rollae.model import RollAENet
    from si_amortized.rollae.train import train_rollae

    class RecordingNet(RollAENet):
        def forward(self, x, shifts=None, method="auto"):
            seen.append(None if shifts is None else shifts.clone())
            return super().forward(x, shifts=shifts, method=method)

    seen = []
    d = 300
    X = _wells(8, d)
    net = RecordingNet(8, d, 4, encoder_hidden=(8,), decoder_hidden=(8,), receptive_field=4)
    train_rollae(net, X, epochs=2, batch_size=4, learning_rate=1e-3, tau=tau)
    assert len(seen) == 4  # 2 epochs x 2 batches
    if expected is None:
        assert all(s is None for s in seen)
        return
    for s in seen:
        assert s.numel() == expected and len(set(s.tolist())) == expected
        assert int(s.min()) >= 0 and int(s.max()) < d
    if expected > 1:
        assert len({tuple(sorted(s.tolist())) for s in seen}) > 1
