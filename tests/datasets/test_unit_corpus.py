"""Synthetic unit corpus for NEMO: balanced m-types, firing by model, template noise of the right size."""

import numpy as np
import pytest

from si_amortized.datasets import library_fold
from si_amortized.datasets.filtering import band_pass_templates
from si_amortized.datasets.unit_corpus import UnitCorpusConfig, synthesize_unit_corpus


@pytest.fixture(scope="module")
def library():
    return library_fold("SqMEA-10-15", "test")  # 4 templates x 13 m-types


def test_corpus_is_balanced_seeded_and_labelled(library):
    config = UnitCorpusConfig(num_units=130, duration_s=20.0)
    corpus = synthesize_unit_corpus(library, config, seed=3)
    _, counts = np.unique(corpus["mtype"], return_counts=True)
    assert len(counts) == 13 and counts.min() == counts.max() == 10
    assert np.array_equal(library.mtypes[corpus["template_index"]], corpus["mtype"])
    assert set(corpus["cell_type"]) == {"E", "I"}
    assert corpus["templates"].shape == (130, int(round(4e-3 * library.sampling_frequency)), 100)
    # spike trains: sorted samples inside the duration, every unit present
    assert np.all(np.diff(corpus["sample_index"]) >= 0) and corpus["sample_index"].max() < corpus["num_samples"]
    assert set(np.unique(corpus["unit_index"])) == set(range(130))
    again = synthesize_unit_corpus(library, config, seed=3)
    for key in ("templates", "sample_index", "unit_index", "mtype"):
        np.testing.assert_array_equal(again[key], corpus[key])
    other = synthesize_unit_corpus(library, config, seed=4)
    assert not np.array_equal(other["templates"], corpus["templates"])


def test_template_noise_shrinks_as_one_over_sqrt_of_the_spikes_averaged(library):
    def residual_std(spikes, every):
        config = UnitCorpusConfig(num_units=52, duration_s=120.0, noise_uv=(20.0, 20.0), mearec_firing_fraction=1.0,
                                  spikes_for_templates=(spikes, spikes), every_spike_fraction=every)
        corpus = synthesize_unit_corpus(library, config, seed=0)
        raw = library.templates.transpose(0, 2, 1)[corpus["template_index"]]
        clean = band_pass_templates(raw, library.sampling_frequency)
        before = corpus["nbefore"]
        out = []
        for u in range(52):
            peak = int(np.argmin(clean[u].min(axis=1)))
            window = np.pad(clean[u], ((before, before), (0, 0)))[peak : peak + corpus["templates"].shape[1]]
            out.append((corpus["templates"][u] - window).std())
        return np.array(out), corpus

    few, corpus = residual_std(25, 0.0)
    many, _ = residual_std(400, 0.0)  # MEArec's rates (5 and 15 Hz) give > 400 spikes in 120 s
    assert np.all(corpus["spikes_for_templates"] == np.minimum(25, np.bincount(corpus["unit_index"])))
    assert np.median(few) / np.median(many) == pytest.approx(4.0, rel=0.15)
    # 20 uV of white noise before the 300-6000 Hz filter at 32 kHz keeps about 0.6 of its std; / sqrt(25)
    assert np.median(few) == pytest.approx(20.0 * 0.6 / 5.0, rel=0.2)
    every, corpus = residual_std(25, 1.0)
    assert np.all(corpus["spikes_for_templates"] == -1) and np.median(every) < np.median(few)


def test_firing_models_are_mixed_as_configured(library):
    corpus = synthesize_unit_corpus(library, UnitCorpusConfig(num_units=200, mearec_firing_fraction=0.3), seed=1)
    assert np.mean(corpus["firing"] == "mearec") == pytest.approx(0.3, abs=0.1)
    only = synthesize_unit_corpus(library, UnitCorpusConfig(num_units=52, mearec_firing_fraction=1.0), seed=1)
    rates = np.bincount(only["unit_index"], minlength=52) / 60.0
    assert rates[only["cell_type"] == "I"].mean() > 2 * rates[only["cell_type"] == "E"].mean()


def test_bad_configs_are_refused(library):
    with pytest.raises(ValueError, match="noise_uv"):
        UnitCorpusConfig(noise_uv=(30.0, 5.0))
    with pytest.raises(ValueError, match="mearec_firing_fraction"):
        UnitCorpusConfig(mearec_firing_fraction=1.5)
    with pytest.raises(ValueError, match="at least one"):
        synthesize_unit_corpus([], UnitCorpusConfig())
