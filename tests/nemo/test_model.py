"""The NEMO encoders and projections: shapes, unit-order invariance, multi-channel waveforms."""

import pytest
import torch

from si_amortized.nemo.config import NemoConfig, WaveformConfig
from si_amortized.nemo.model import NemoModel


def test_model_shapes_and_unit_order_invariance():
    torch.manual_seed(0)
    model = NemoModel().eval()
    acg = torch.rand(6, 10, 101)
    wf = torch.randn(6, 1, 90)
    z_acg, z_wf = model(acg, wf)
    assert z_acg.shape == z_wf.shape == (6, 512)
    torch.testing.assert_close(z_acg.norm(dim=1), torch.ones(6))
    rep = model.representation(acg, wf)
    assert rep.shape == (6, 500)
    perm = torch.tensor([3, 0, 5, 1, 4, 2])
    torch.testing.assert_close(model.representation(acg[perm], wf[perm]), rep[perm])
    # one unit alone gives the same as in a batch (eval mode, no batch coupling)
    torch.testing.assert_close(model.representation(acg[2:3], wf[2:3]), rep[2:3])
    with pytest.raises(ValueError):
        model(torch.rand(2, 10, 50), torch.randn(2, 1, 90))
    # multi-channel config changes the waveform encoder's input
    mc = NemoModel(NemoConfig(waveform=WaveformConfig(num_channels=9)))
    assert mc.waveform_encoder.fc1.in_features == 9 * 90
