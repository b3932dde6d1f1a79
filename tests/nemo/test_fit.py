"""The entry point on SortingAnalyzers (:func:`fit_nemo`), and its deprecated array form."""

import numpy as np
import pytest

from si_amortized.nemo.config import TrainConfig
from si_amortized.nemo.fit import fit_nemo
from si_amortized.nemo.inputs import inputs_from_analyzers
from si_amortized.nemo.train import train_nemo

from .helpers import assert_same_model

TINY = TrainConfig(epochs=2, batch_size=4, eval_every=1)
QUIET = dict(train_config=TINY, device=None, progress_bar=False)


def test_fit_nemo_trains_on_the_prepared_inputs_of_sorting_analyzers(small_analyzer):
    acg, wf, which = inputs_from_analyzers([small_analyzer, small_analyzer])
    assert acg.shape == (12, 10, 101) and wf.shape == (12, 1, 90) and which.tolist() == [0] * 6 + [1] * 6
    assert_same_model(fit_nemo([small_analyzer, small_analyzer], **QUIET), train_nemo(acg, wf, **QUIET))
    with pytest.raises(TypeError, match="unexpected"):
        fit_nemo(small_analyzer, wf, **QUIET)


def test_fit_nemo_on_arrays_warns_and_still_trains_as_train_nemo():
    """``fit_nemo(acg_images, waveforms, ...)`` was the loop on arrays, now ``train_nemo``: one release of grace."""
    rng = np.random.default_rng(0)
    acg = rng.random((8, 10, 101)).astype(np.float32)
    wf = rng.normal(size=(8, 1, 90)).astype(np.float32)
    validation = (acg[:2], wf[:2])
    expected = train_nemo(acg, wf, validation=validation, seed=1, **QUIET)
    with pytest.warns(DeprecationWarning, match="now train_nemo"):
        got = fit_nemo(acg, wf, validation=validation, seed=1, **QUIET)
    assert_same_model(got, expected)
