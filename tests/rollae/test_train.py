"""The Roll-AE training loop: learning-rate schedule per batch, shift-sampling rate."""

import numpy as np
import pytest
import torch

from si_amortized.rollae import RollAEConfig

from .helpers import poisson_wells


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
    X = poisson_wells(10, 30)
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
    X = poisson_wells(8, d)
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
