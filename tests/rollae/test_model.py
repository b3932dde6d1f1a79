"""RollAENet: the FFT first layer against a naive loop, exact invariance, bad inputs (double precision)."""

import itertools

import pytest
import torch

from si_amortized.rollae.model import RollAENet, first_layer_fft

from .helpers import sym323

pytestmark = pytest.mark.usefixtures("float64_default_dtype")  # exactness checks in double precision


def _naive_first_layer(x, weight, bias, sym):
    """Loop over symmetries and shifts, roll explicitly, flatten, matmul."""
    b, e, d = x.shape
    out = torch.zeros(b, sym.shape[0], d, weight.shape[0], dtype=x.dtype)
    for g in range(sym.shape[0]):
        for i in range(d):
            rolled = torch.roll(x[:, sym[g]], i, dims=-1)
            out[:, g, i] = rolled.reshape(b, -1) @ weight.reshape(weight.shape[0], -1).T + bias
    return out


def test_fft_first_layer_equals_naive():
    torch.manual_seed(0)
    x = torch.rand(3, 8, 20)
    w = torch.randn(5, 8, 20)
    bias = torch.randn(5)
    sym = sym323()
    torch.testing.assert_close(first_layer_fft(x, w, bias, sym), _naive_first_layer(x, w, bias, sym), atol=1e-10, rtol=0)


@pytest.mark.parametrize("receptive_field", [None, 7])
def test_fft_and_direct_paths_agree(receptive_field):
    torch.manual_seed(1)
    net = RollAENet(8, 30, 6, encoder_hidden=(12, 9), decoder_hidden=(9, 12), symmetries=sym323(), receptive_field=receptive_field)
    x = torch.rand(4, 8, 30)
    full_fft = net.element_features(x, method="fft")
    full_direct = net.element_features(x, method="direct")
    torch.testing.assert_close(full_fft, full_direct, atol=1e-10, rtol=0)
    shifts = torch.tensor([0, 5, 29])
    torch.testing.assert_close(net.element_features(x, shifts=shifts, method="direct"), full_fft[:, :, shifts], atol=1e-10, rtol=0)


def test_embedding_exactly_invariant_to_shifts_and_symmetries():
    torch.manual_seed(2)
    sym = sym323()
    net = RollAENet(8, 25, 5, encoder_hidden=(16, 8), symmetries=sym)
    x = torch.rand(3, 8, 25)
    z = net.encode(x)
    for g, shift in itertools.product(range(sym.shape[0]), (1, 7, 24)):
        x2 = torch.roll(x[:, sym[g]], shift, dims=-1)
        torch.testing.assert_close(net.encode(x2), z, atol=1e-12, rtol=0)
    # a non-symmetry permutation of the electrodes changes the embedding
    other = torch.tensor([1, 0, 2, 3, 4, 5, 6, 7])
    assert (net.encode(x[:, other]) - z).abs().max() > 1e-6


def test_embedding_not_invariant_with_sampled_shifts_only():
    torch.manual_seed(3)
    net = RollAENet(8, 25, 5, encoder_hidden=(16, 8))
    x = torch.rand(2, 8, 25)
    shifts = torch.tensor([0, 3])
    assert (net.encode(x, shifts=shifts) - net.encode(torch.roll(x, 5, -1), shifts=shifts)).abs().max() > 1e-6


def test_model_bad_inputs():
    net = RollAENet(8, 12, 4, encoder_hidden=(8,))
    with pytest.raises(ValueError, match="expected wells"):
        net.encode(torch.rand(2, 7, 12))
    with pytest.raises(ValueError):
        RollAENet(8, 12, 4, symmetries=torch.arange(7)[None])
    with pytest.raises(ValueError):
        RollAENet(8, 12, 4, activation="nope")
