"""Shared torch helpers: device resolution, seeding, batched prediction against a direct call."""

import numpy as np
import pytest
import torch

from si_amortized._torch import predict_in_batches, resolve_device, seed_everything


def test_resolve_device():
    assert resolve_device(None) == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("auto").type == ("cuda" if torch.cuda.is_available() else "cpu")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_seed_everything_is_reproducible():
    g1 = seed_everything(3)
    a = (torch.rand(4, generator=g1), np.random.rand(2), torch.rand(2))
    g2 = seed_everything(3)
    b = (torch.rand(4, generator=g2), np.random.rand(2), torch.rand(2))
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


@pytest.mark.parametrize("batch_size", [1, 7, 100, 1000])
def test_predict_in_batches_equals_one_call(batch_size):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(100, 5)).astype("float64")
    idx = rng.integers(0, 3, size=100)
    weight = torch.randn(5, 2)

    def fn(xb, ib):
        return xb @ weight, ib * 2

    out, doubled = predict_in_batches(fn, x, idx, batch_size=batch_size)
    expected = torch.as_tensor(x, dtype=torch.float32) @ weight
    np.testing.assert_allclose(out, expected.numpy(), rtol=1e-6)
    np.testing.assert_array_equal(doubled, idx * 2)
    assert out.dtype == np.float32 and doubled.dtype == idx.dtype


def test_forked_workers_lose_cuda_only_when_fork_follows_cuda(monkeypatch):
    from si_amortized._torch import forked_workers_lose_cuda

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    assert forked_workers_lose_cuda("cuda", 2, "process", "fork")
    assert forked_workers_lose_cuda("auto", 4, "process", "fork")
    assert not forked_workers_lose_cuda("cuda", 1, "process", "fork")  # no workers
    assert not forked_workers_lose_cuda("cuda", 2, "thread", None)  # threads share the process's CUDA
    assert not forked_workers_lose_cuda("cuda", 2, "process", "spawn")  # a fresh process starts CUDA
    assert not forked_workers_lose_cuda(None, 2, "process", "fork")  # the CPU was asked for
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)  # workers forked before CUDA started
    assert not forked_workers_lose_cuda("cuda", 2, "process", "fork")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert not forked_workers_lose_cuda("auto", 2, "process", "fork")
