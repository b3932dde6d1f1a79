"""Cell-type MEArec analyzers: the train / test folds of the packaged template library."""

import numpy as np
import pytest

from si_amortized.datasets import library_fold, load_template_library


def test_library_folds_split_every_mtype():
    full = load_template_library("SqMEA-10-15")
    train, test = library_fold(part="train"), library_fold(part="test", num_test_per_mtype=4)
    assert len(train.templates) + len(test.templates) == len(full.templates)
    assert set(np.unique(test.mtypes)) == set(np.unique(full.mtypes))
    assert all((test.mtypes == m).sum() == 4 for m in np.unique(full.mtypes))
    # no template is in both folds
    in_train = {t.tobytes() for t in train.templates}
    assert not any(t.tobytes() in in_train for t in test.templates)
    assert library_fold(part="all") is not None and len(library_fold(part="all").templates) == len(full.templates)
    with pytest.raises(ValueError, match="part must be"):
        library_fold(part="validation")


def test_unknown_firing_is_refused_before_simulating(tmp_path):
    from si_amortized.datasets import simulate_celltype_analyzer

    with pytest.raises(ValueError, match="firing must be"):
        simulate_celltype_analyzer(0, output=tmp_path / "x.h5", firing="bursty")
    assert not (tmp_path / "x.h5").exists()
