"""The package's Adam against torch.optim.Adam: the same weights, step after step."""

import numpy as np
import pytest
import torch

from si_amortized._adam import Adam


def _model(seed):
    torch.manual_seed(seed)
    return torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(), torch.nn.Linear(16, 3))


@pytest.mark.parametrize("betas", [(0.9, 0.999), (0.99, 0.999)])
def test_same_weights_as_torch_adam(betas):
    ours, theirs = _model(0), _model(0)
    frozen = ours[3].bias, theirs[3].bias  # a parameter without gradient is left alone by both
    for p in frozen:
        p.requires_grad_(False)
    opt_ours = Adam(ours.parameters(), lr=3e-3, betas=betas)
    opt_theirs = torch.optim.Adam(theirs.parameters(), lr=3e-3, betas=betas)
    rng = np.random.default_rng(1)
    for step in range(60):
        x = torch.as_tensor(rng.normal(size=(32, 7)), dtype=torch.float32)
        y = torch.as_tensor(rng.normal(size=(32, 3)), dtype=torch.float32)
        for model, opt in ((ours, opt_ours), (theirs, opt_theirs)):
            opt.zero_grad()
            loss = ((model(x) - y) ** 2).mean()
            loss.backward()
            opt.step()
    for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()):
        assert torch.equal(a, b)  # bit for bit: the same arithmetic in the same order
    assert torch.equal(frozen[0], frozen[1]) and torch.equal(frozen[0], _model(0)[3].bias)
    assert not torch.equal(ours[0].weight, _model(0)[0].weight)  # and it did train


def test_a_step_against_the_formula():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    opt = Adam([p], lr=0.1, betas=(0.9, 0.99), eps=1e-8)
    grads = [torch.tensor([0.3, -1.0, 0.0]), torch.tensor([-0.2, 0.5, 2.0])]
    expected = p.detach().double().clone()
    m = torch.zeros(3, dtype=torch.float64)
    v = torch.zeros(3, dtype=torch.float64)
    for t, g in enumerate(grads, start=1):
        p.grad = g.clone()
        opt.step()
        m = 0.9 * m + 0.1 * g.double()
        v = 0.99 * v + 0.01 * g.double() ** 2
        expected -= 0.1 * (m / (1 - 0.9**t)) / (torch.sqrt(v / (1 - 0.99**t)) + 1e-8)
    np.testing.assert_allclose(p.detach().numpy(), expected.numpy(), rtol=1e-6, atol=1e-7)


def test_bad_settings_raise():
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])
    with pytest.raises(ValueError, match="betas"):
        Adam([torch.nn.Parameter(torch.zeros(1))], betas=(1.0, 0.9))
