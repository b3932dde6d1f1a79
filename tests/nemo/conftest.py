"""NEMO test settings: one torch thread (the CI machine has 2 shared cores; small models run faster so), and
a small SortingAnalyzer for the entry points."""

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="package")
def small_analyzer():
    """6 generated units on 4 channels, 20 s, with templates."""
    import spikeinterface.full as si

    rec, sort = si.generate_ground_truth_recording(durations=[20.0], num_units=6, num_channels=4, seed=3)
    analyzer = si.create_sorting_analyzer(sort, rec, sparse=False)
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)
    return analyzer
