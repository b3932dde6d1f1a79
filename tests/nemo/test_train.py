"""The training loop on arrays lowers the loss and is seeded; its deprecated SortingAnalyzer form."""

import numpy as np
import pytest
import torch

from si_amortized.nemo.config import TrainConfig
from si_amortized.nemo.fit import embed, fit_nemo
from si_amortized.nemo.train import train_nemo

from .helpers import assert_same_model


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
    cfg = TrainConfig(epochs=20, batch_size=32, eval_every=5, val_fraction=0.25, learning_rate=2e-3, t0_epochs=100)
    model, hist = train_nemo(acg, wf, train_config=cfg, seed=0, device=None, progress_bar=False)
    assert hist["train_loss"][-1] < hist["train_loss"][0] - 0.1
    assert len(hist["val_retrieval"]) == 4 and hist["best_epoch"] in hist["val_epoch"]
    assert not model.training
    model2, hist2 = train_nemo(acg, wf, train_config=cfg, seed=0, device=None, progress_bar=False)
    np.testing.assert_allclose(hist["train_loss"], hist2["train_loss"], rtol=1e-5)
    rep = embed(model, acg, wf)
    assert rep.shape == (96, 500)
    np.testing.assert_allclose(embed(model2, acg, wf), rep, atol=1e-5)
    with pytest.raises(ValueError):
        train_nemo(acg[:1], wf[:1], train_config=cfg, device=None, progress_bar=False)


def test_on_evaluate_sees_each_validation_epoch_without_changing_the_training():
    """The checkpoints it is given are the model at those epochs: the best one equals the returned model."""
    import copy

    acg, wf = _paired_data(96)
    cfg = TrainConfig(epochs=12, batch_size=32, eval_every=4, val_fraction=0.25, learning_rate=2e-3, t0_epochs=100)
    seen = {}

    def keep(epoch, model):
        assert not model.training
        seen[epoch] = copy.deepcopy(model.state_dict())

    model, hist = train_nemo(acg, wf, train_config=cfg, seed=0, device=None, progress_bar=False, on_evaluate=keep)
    plain, plain_hist = train_nemo(acg, wf, train_config=cfg, seed=0, device=None, progress_bar=False)
    assert sorted(seen) == hist["val_epoch"] == [3, 7, 11]
    np.testing.assert_allclose(hist["train_loss"], plain_hist["train_loss"], rtol=1e-6)
    for name, value in model.state_dict().items():
        torch.testing.assert_close(seen[hist["best_epoch"]][name], value)


def test_a_label_term_makes_a_class_the_clip_loss_ignores_linearly_separable():
    """The class is |latent| > 0.7 of a waveform bump whose sign varies: not linear in the waveform.

    Trained with the label term, a linear probe on the representation separates it; with weight 0 the
    training is exactly the plain CLIP training.
    """
    from sklearn.linear_model import LogisticRegression

    acg, wf = _paired_data(192, seed=3)
    rng = np.random.default_rng(3)
    bump = rng.normal(size=192)
    t = np.linspace(-1, 2, 90)
    wf = wf + (0.4 * bump[:, None] * np.exp(-(((t - 1.2) / 0.15) ** 2)))[:, None, :].astype(np.float32)
    labels = (np.abs(bump) > 0.7).astype(np.int64)
    labels_seen = labels.copy()
    labels_seen[::4] = -1  # some units unlabelled
    cfg = TrainConfig(epochs=30, batch_size=32, eval_every=10, val_fraction=0.0, learning_rate=2e-3, t0_epochs=100)
    kw = dict(train_config=cfg, seed=0, device=None, progress_bar=False)

    def probe_accuracy(model):
        rep = embed(model, acg, wf)
        train, test = np.arange(192) % 2 == 0, np.arange(192) % 2 == 1
        clf = LogisticRegression(max_iter=2000).fit(rep[train], labels[train])
        return clf.score(rep[test], labels[test])

    with_labels, hist = train_nemo(acg, wf, labels=labels_seen, label_weight=1.0, **kw)
    plain, plain_hist = train_nemo(acg, wf, **kw)
    zero, zero_hist = train_nemo(acg, wf, labels=labels_seen, label_weight=0.0, **kw)
    assert hist["train_label_loss"][-1] < 0.5 * hist["train_label_loss"][0]
    accuracy, plain_accuracy = probe_accuracy(with_labels), probe_accuracy(plain)
    print(f"probe accuracy with labels {accuracy:.3f}, without {plain_accuracy:.3f}")
    assert accuracy >= 0.9
    assert accuracy > plain_accuracy + 0.1
    np.testing.assert_array_equal(zero_hist["train_loss"], plain_hist["train_loss"])
    assert "train_label_loss" not in zero_hist
    with pytest.raises(ValueError, match="labels"):
        train_nemo(acg, wf, labels=labels[:10], label_weight=1.0, **kw)
    with pytest.raises(ValueError, match="two classes"):
        train_nemo(acg, wf, labels=np.zeros(192, dtype=int), label_weight=1.0, **kw)


@pytest.mark.gpu
def test_cuda_training_runs():
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    acg, wf = _paired_data(64)
    model, hist = train_nemo(acg, wf, train_config=TrainConfig(epochs=3, batch_size=32), device="cuda", progress_bar=False)
    assert np.isfinite(hist["train_loss"]).all()
    assert embed(model, acg, wf, device="cuda").shape == (64, 500)


def test_train_nemo_on_sorting_analyzers_warns_and_still_trains_as_fit_nemo(small_analyzer):
    """``train_nemo(sorting_analyzers, ...)`` was the entry point, now ``fit_nemo``: one release of grace."""
    quiet = dict(train_config=TrainConfig(epochs=2, batch_size=4, eval_every=1), device=None, progress_bar=False)
    expected = fit_nemo(small_analyzer, **quiet)
    with pytest.warns(DeprecationWarning, match="now fit_nemo"):
        got = train_nemo(small_analyzer, **quiet)
    assert_same_model(got, expected)
    with pytest.raises(TypeError, match="waveforms"):
        train_nemo(np.zeros((6, 10, 101), dtype=np.float32), **quiet)


def test_old_import_paths_of_the_moved_helpers():
    from si_amortized.nemo import fit, inputs, train

    assert train.inputs_from_analyzers is inputs.inputs_from_analyzers
    assert fit.evaluate_retrieval is train.evaluate_retrieval
