import numpy as np
import pytest

from .toy import FAST, make_toy_recording


@pytest.fixture(scope="session")
def toy():
    """(recording, sorting, spike_sources, unit_sources): 8x8 grid, 40 units (some just off the array), exact decay model."""
    return make_toy_recording(num_units=40, spikes_per_unit=30, noise_uv=1.0, seed=0, spike_jitter_um=3.0, overhang_um=10.0)


@pytest.fixture(scope="session")
def toy_peaks(toy):
    recording, sorting, sources, _ = toy
    spikes = sorting.to_spike_vector()
    locs = recording.get_channel_locations()
    peaks = np.zeros(spikes.size, dtype=[("sample_index", "int64"), ("channel_index", "int64"), ("segment_index", "int64")])
    peaks["sample_index"] = spikes["sample_index"]
    peaks["channel_index"] = np.argmin(np.linalg.norm(locs[None] - sources[:, None, :2], axis=2), axis=1)
    return peaks


@pytest.fixture(scope="session")
def toy_model(toy, toy_peaks):
    from si_amortized.localization import FeatureConfig, ModelConfig, TrainingConfig, fit_localizer_on_recording

    recording = toy[0]
    return fit_localizer_on_recording(
        recording, toy_peaks, FeatureConfig(), ModelConfig(), TrainingConfig(**FAST)
    )
