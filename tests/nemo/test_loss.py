"""The CLIP loss against a naive reference; retrieval accuracy."""

import math

import pytest
import torch

from si_amortized.nemo.loss import clip_loss, label_loss, retrieval_accuracy


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


def test_label_loss_is_the_cross_entropy_of_the_labelled_units_only():
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(6, 3, generator=g, dtype=torch.float64, requires_grad=True)
    labels = torch.tensor([0, -1, 2, 1, -1, 2])
    expected = 0.0
    for row, label in zip(logits.detach(), labels.tolist()):
        if label >= 0:
            expected -= float(row[label] - torch.logsumexp(row, 0))
    assert label_loss(logits, labels).item() == pytest.approx(expected / 4, rel=1e-12)
    label_loss(logits, labels).backward()
    assert torch.all(logits.grad[[1, 4]] == 0) and torch.any(logits.grad[0] != 0)
    none = label_loss(logits, torch.full((6,), -1))
    assert none.item() == 0.0 and none.requires_grad
    with pytest.raises(ValueError):
        label_loss(logits, labels[:3])
