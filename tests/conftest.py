"""Shared fixtures: a tiny MEArec ground-truth recording from the packaged template library."""

import os
import tempfile

import pytest


def pytest_configure(config):
    # keep the tests' simulations out of the user's cache
    if "SI_AMORTIZED_CACHE" not in os.environ:
        os.environ["SI_AMORTIZED_CACHE"] = tempfile.mkdtemp(prefix="si_amortized_test_cache_")


MEAREC_SMALL = dict(probe="SqMEA-10-15", n_exc=8, n_inh=2, duration=5.0, noise_level=10.0, seed=0)


@pytest.fixture(scope="session")
def mearec_small_path(tmp_path_factory):
    """Path of a 5 s MEArec recording: SqMEA-10-15, 8 E + 2 I cells, noise 10 uV, seed 0."""
    from si_amortized.datasets import simulate_recording

    return simulate_recording(output=tmp_path_factory.mktemp("mearec") / "small.h5", **MEAREC_SMALL)


@pytest.fixture(scope="session")
def mearec_small(mearec_small_path):
    """``(recording, sorting)`` of :func:`mearec_small_path`, ground truth as sorting properties."""
    from si_amortized.datasets import load_mearec

    return load_mearec(mearec_small_path)


def cuda_available() -> bool:
    import torch

    return torch.cuda.is_available()


requires_cuda = pytest.mark.skipif(not cuda_available(), reason="needs CUDA; this machine has none")
