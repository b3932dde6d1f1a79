import numpy as np
import pytest
import torch

from si_amortized.rollae import ExperimentalOptions, RollAE, RollAEConfig
from si_amortized.rollae.symmetry import axion_323_positions, layout_symmetries

from .helpers import poisson_wells

SMALL = dict(embedding_dim=6, encoder_hidden=(16, 8), decoder_hidden=(8, 16), receptive_field=8, epochs=2, batch_size=8, seed=0)


@pytest.fixture(scope="module")
def fitted():
    X = poisson_wells()
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
    X = poisson_wells(8, 30)
    a = RollAE(axion_323_positions(), **SMALL).fit(X).transform(X)
    b = RollAE(axion_323_positions(), **SMALL).fit(X).transform(X)
    np.testing.assert_array_equal(a, b)


def test_training_reduces_the_loss():
    X = poisson_wells(32, 30, seed=1)
    cfg = dict(SMALL, epochs=10, batch_size=16, learning_rate=3e-3)
    model = RollAE(axion_323_positions(), **cfg).fit(X)
    assert model.history_[-1] < 0.9 * model.history_[0]


def test_poisson_reconstruction_loss_fits_invariant_positive_rates():
    X = poisson_wells(16, 30, seed=2)
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
    X = poisson_wells(8, 30, seed=3)
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
    X = poisson_wells(6, 20)
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
