"""Data and checks shared by the NEMO tests and the NEMO plot tests."""

import numpy as np
import torch


def blobs(n_per=30, k=3, dim=20, sep=4.0, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, dim)) * sep
    X = np.concatenate([c + rng.normal(size=(n_per, dim)) for c in centres])
    y = np.repeat(np.arange(k), n_per)
    return X, y


def assert_same_model(a, b):
    """Same weights (state dict) and the same training history."""
    (model_a, history_a), (model_b, history_b) = a, b
    state_a, state_b = model_a.state_dict(), model_b.state_dict()
    assert list(state_a) == list(state_b)
    for name in state_a:
        torch.testing.assert_close(state_a[name], state_b[name], rtol=0, atol=0)
    np.testing.assert_array_equal(history_a["train_loss"], history_b["train_loss"])
