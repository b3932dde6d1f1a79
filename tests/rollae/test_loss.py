"""The Roll-AE loss: FFT shift errors against naive loops, brute-force assignment, gradients (double precision)."""

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

from si_amortized.rollae.loss import (
    circular_cross_correlation,
    min_shift_mse,
    rollae_loss,
    shift_poisson_nll,
    shift_squared_errors,
)
from si_amortized.rollae.model import RollAENet
from si_amortized.rollae.symmetry import layout_symmetries, line_positions

from .helpers import sym323

pytestmark = pytest.mark.usefixtures("float64_default_dtype")  # exactness checks in double precision


def _naive_errors(x, y, sym):
    b, e, d = x.shape
    out = torch.zeros(b, sym.shape[0], d)
    for g in range(sym.shape[0]):
        for i in range(d):
            out[:, g, i] = ((torch.roll(x[:, sym[g]], i, -1) - y) ** 2).mean(dim=(1, 2))
    return out


def test_fft_shift_errors_equal_naive():
    torch.manual_seed(4)
    x, y = torch.rand(3, 8, 17), torch.rand(3, 8, 17)
    sym = sym323()
    torch.testing.assert_close(shift_squared_errors(x, y, sym), _naive_errors(x, y, sym), atol=1e-12, rtol=0)
    torch.testing.assert_close(shift_squared_errors(x, y, sym, fft=False), _naive_errors(x, y, sym), atol=1e-12, rtol=0)
    a, b = torch.rand(2, 11), torch.rand(2, 11)
    naive = torch.stack([(a * torch.roll(b, i, -1)).sum(-1) for i in range(11)], -1)
    torch.testing.assert_close(circular_cross_correlation(a, b), naive, atol=1e-12, rtol=0)


def _poisson(a, rate, eps=1e-6):
    return float((rate - a * torch.log(rate + eps)).mean())


def test_fft_poisson_nll_equals_naive():
    torch.manual_seed(7)
    sym = sym323()
    x = torch.poisson(torch.full((3, 8, 17), 0.7))
    rate = torch.rand(3, 8, 17) + 0.05
    naive = torch.zeros(3, sym.shape[0], 17)
    for b in range(3):
        for g in range(sym.shape[0]):
            for i in range(17):
                naive[b, g, i] = _poisson(torch.roll(x[b, sym[g]], i, -1), rate[b])
    torch.testing.assert_close(shift_poisson_nll(x, rate, sym), naive, atol=1e-12, rtol=0)
    torch.testing.assert_close(shift_poisson_nll(x, rate, sym, fft=False), naive, atol=1e-12, rtol=0)


def test_poisson_loss_is_smallest_at_the_rates_of_a_transformed_copy():
    """The Poisson NLL of counts is minimised by rates equal to the counts: any shift/flip of x, not a rescaling."""
    torch.manual_seed(8)
    sym = sym323()
    x = torch.poisson(torch.full((2, 8, 12), 1.5)) + 0.5  # positive everywhere, so log(rate) is finite
    best = torch.roll(x[:, sym[2]], 5, -1)
    at_best = rollae_loss(x, best, sym, element_loss="poisson", reduction="none")
    for factor in (0.7, 0.95, 1.05, 1.4):
        worse = rollae_loss(x, best * factor, sym, element_loss="poisson", reduction="none")
        assert torch.all(worse > at_best)
    with pytest.raises(ValueError, match="element_loss"):
        rollae_loss(x, best, sym, element_loss="l1")


@pytest.mark.parametrize("element_loss", ["mse", "poisson"])
@pytest.mark.parametrize("use_sym", [False, True])
def test_loss_equals_brute_force_linear_assignment(use_sym, element_loss):
    """Lemma A.1: the optimal assignment between the two transformation sets costs |set| * min."""
    rng = np.random.default_rng(5)
    pos = line_positions(3)
    sym = torch.as_tensor(layout_symmetries(pos)) if use_sym else torch.arange(3)[None]
    d = 6
    element = (lambda a, b: float(((a - b) ** 2).mean())) if element_loss == "mse" else _poisson
    for _ in range(5):
        x = torch.as_tensor(rng.poisson(1.0, (1, 3, d)).astype(float))
        y = torch.as_tensor(rng.random((1, 3, d)) + 0.1)
        set_x = [torch.roll(x[0, s], i, -1) for s in sym for i in range(d)]
        set_y = [torch.roll(y[0, s], i, -1) for s in sym for i in range(d)]
        cost = np.array([[element(a, b) for b in set_y] for a in set_x])
        r, c = linear_sum_assignment(cost)
        brute = cost[r, c].sum()
        loss = rollae_loss(x, y, symmetries=sym, element_loss=element_loss)
        assert float(loss) == pytest.approx(brute, rel=1e-10)
        if element_loss == "mse":
            assert float(min_shift_mse(x, y, symmetries=sym)[0]) * len(set_x) == pytest.approx(brute, rel=1e-10)


def test_loss_zero_for_shifted_copy_and_gradients_flow():
    torch.manual_seed(6)
    sym = sym323()
    x = torch.rand(2, 8, 12)
    y = torch.roll(x[:, sym[3]], 4, -1)
    assert float(rollae_loss(x, y, sym)) == pytest.approx(0.0, abs=1e-10)
    net = RollAENet(8, 12, 4, encoder_hidden=(8, 6), symmetries=sym)
    z, xhat = net(x, shifts=torch.tensor([0, 2]))
    loss = rollae_loss(x, xhat, sym, scale_by_set_size=False)
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in net.parameters())
    with pytest.raises(ValueError):
        rollae_loss(x, xhat, sym, reduction="bad")
    with pytest.raises(ValueError):
        shift_squared_errors(x, xhat[:, :4], sym)
