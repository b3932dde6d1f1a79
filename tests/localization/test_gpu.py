import numpy as np
import pytest
import torch

from si_amortized.localization import FeatureConfig, aggregate_locations, examples_from_recording, predict_examples


@pytest.mark.gpu
def test_cuda_inference_matches_cpu(toy, toy_peaks, toy_model):
    if not torch.cuda.is_available():
        pytest.skip("needs CUDA")
    recording = toy[0]
    ex = examples_from_recording(recording, toy_peaks[:200], FeatureConfig())
    cpu = predict_examples(toy_model, ex, device=None)
    gpu = predict_examples(toy_model, ex, device="cuda")
    toy_model.cpu()
    for a, b in zip(cpu, gpu):
        np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    loc, _ = aggregate_locations(ex, *gpu, recording.get_channel_locations())
    assert np.isfinite(loc).all()
