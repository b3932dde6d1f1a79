"""One SpikeInterface contract for every extension of the plugin (a new extension joins with one `Case`).

memory / binary_folder / zarr x sparse / dense: compute, exact reload, select_units, soft and hard
merge_units, split_units, recompute from the stored params reusing the stored model (same output, no
training), save_as to another format keeping the extension, and a bad recompute that loses nothing.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

import numpy as np
import pytest
import torch

import si_amortized  # noqa: F401  (registers the extensions)
from spikeinterface.core import create_sorting_analyzer, load_sorting_analyzer

from si_amortized.nemo import NemoModel
from tests.localization.toy import FAST, make_toy_recording


def _analyzer(recording, sorting, sparse, folder):
    # a recording saved to disk, so that analyzers reloaded from a folder keep it
    recording = recording.save(folder=folder / "recording", n_jobs=1, progress_bar=False)
    return create_sorting_analyzer(sorting, recording, sparse=sparse, format="memory")


def _toy_analyzer(sparse: bool, folder):
    recording, sorting, _, _ = make_toy_recording(num_units=6, spikes_per_unit=40, noise_uv=1.0, seed=3)
    return _analyzer(recording, sorting, sparse, folder)


def _plate_analyzer(sparse: bool, folder):
    from tests.rollae.helpers import plate_recording

    return _analyzer(*plate_recording(), sparse, folder)


def _vae_params(analyzer):
    return {**FAST, "epochs": 2, "seed": 0}


def _nemo_prepare(analyzer):
    analyzer.compute(["random_spikes", "templates"], progress_bar=False)


def _nemo_params(analyzer):
    torch.manual_seed(0)
    return dict(model=NemoModel().eval())


def _rollae_params(analyzer):
    return dict(bin_width_s=0.5, fit_kwargs=dict(embedding_dim=4, encoder_hidden=(8, 6), decoder_hidden=(6, 8),
                                                  receptive_field=4, epochs=1, seed=0))


@dataclass(frozen=True)
class Case:
    name: str
    make_analyzer: Callable
    prepare: Callable
    params: Callable
    training: tuple  # (module, attribute) that trains a model: must not run on a recompute

    def __str__(self):
        return self.name


CASES = [
    Case("vae_locations", _toy_analyzer, lambda a: None, _vae_params,
         ("si_amortized.localization.prepare", "fit_localizer_on_recording")),
    Case("nemo_embeddings", _toy_analyzer, _nemo_prepare, _nemo_params,
         ("si_amortized.nemo.fit", "fit_nemo")),
    Case("well_embeddings", _plate_analyzer, lambda a: None, _rollae_params,
         ("si_amortized.rollae.estimator.RollAE", "fit")),
]


def _data(ext):
    data = ext.get_data()
    return data.to_numpy() if hasattr(data, "to_numpy") else data


def _assert_same(a, b):
    if a.dtype.names:
        for name in a.dtype.names:
            np.testing.assert_array_equal(a[name], b[name])
    else:
        np.testing.assert_array_equal(a, b)


def _forbid_training(monkeypatch, case):
    module_name, attribute = case.training
    parts = module_name.split(".")
    try:
        target = importlib.import_module(module_name)
    except ModuleNotFoundError:
        target = getattr(importlib.import_module(".".join(parts[:-1])), parts[-1])

    def refuse(*args, **kwargs):
        raise AssertionError(f"{case.name}: a recompute trained a new model")

    monkeypatch.setattr(target, attribute, refuse)


@pytest.fixture(params=CASES, ids=str, scope="module")
def case(request):
    return request.param


@pytest.fixture(params=[True, False], ids=["sparse", "dense"], scope="module")
def computed(case, request, tmp_path_factory):
    analyzer = case.make_analyzer(request.param, tmp_path_factory.mktemp(case.name))
    case.prepare(analyzer)
    ext = analyzer.compute(case.name, **case.params(analyzer), progress_bar=False)
    return analyzer, ext


@pytest.mark.parametrize("fmt", ["memory", "binary_folder", "zarr"])
def test_reload_select_merge_split_recompute(case, computed, fmt, tmp_path, monkeypatch):
    base, ext0 = computed
    expected = _data(ext0)
    folder = None if fmt == "memory" else tmp_path / f"an.{fmt}"
    analyzer = base.save_as(format=fmt, folder=folder)
    if folder is not None:
        analyzer = load_sorting_analyzer(folder)
    ext = analyzer.get_extension(case.name)
    _assert_same(_data(ext), expected)
    # params are JSON-native and valid input of _set_params
    assert ext.params["model"].startswith("sha256:") or ext.params["model"] == "pretrained"

    _forbid_training(monkeypatch, case)
    model_before = ext.get_model()
    # recompute from the stored params: the same model, the same output, no training
    again = analyzer.compute(case.name, **ext.params)
    _assert_same(_data(again), expected)
    assert again.params == ext.params

    unit_ids = analyzer.unit_ids
    sub = analyzer.select_units(unit_ids[:4])
    assert sub.get_extension(case.name) is not None
    for mode in ("soft", "hard"):
        merged = analyzer.merge_units([[unit_ids[0], unit_ids[1]]], merging_mode=mode, new_id_strategy="append",
                                        sparsity_overlap=0.0)
        m_ext = merged.get_extension(case.name)
        assert m_ext is not None, mode
        assert m_ext.params["model"] == ext.params["model"]
        for key in ("model_weights", "model_counters"):
            np.testing.assert_array_equal(m_ext.data[key], ext.data[key])
    split_unit = unit_ids[2]
    n = len(analyzer.sorting.get_unit_spike_train(split_unit))
    split = analyzer.split_units({split_unit: [np.arange(n // 2), np.arange(n // 2, n)]})
    assert split.get_extension(case.name) is not None
    # the rebuilt model is the stored one
    for (name, a), (_, b) in zip(model_before.state_dict().items() if hasattr(model_before, "state_dict")
                                 else model_before.net_.state_dict().items(),
                                 again.get_model().state_dict().items() if hasattr(model_before, "state_dict")
                                 else again.get_model().net_.state_dict().items()):
        torch.testing.assert_close(a, b, msg=name)

    # save_as to another format keeps the extension and its model
    other = "zarr" if fmt != "zarr" else "binary_folder"
    copy = analyzer.save_as(format=other, folder=tmp_path / f"copy.{other}")
    reloaded = load_sorting_analyzer(tmp_path / f"copy.{other}")
    _assert_same(_data(reloaded.get_extension(case.name)), expected)
    assert copy.get_extension(case.name).params == ext.params


def test_bad_recompute_keeps_the_saved_result(case, computed, tmp_path):
    base, ext0 = computed
    analyzer = base.save_as(format="binary_folder", folder=tmp_path / "an")
    expected = _data(analyzer.get_extension(case.name))
    bad = dict(analyzer.get_extension(case.name).params)
    bad["model"] = "sha256:0000000000000000"
    with pytest.raises(ValueError, match="not loaded in this session"):
        analyzer.compute(case.name, **bad)
    with pytest.raises((TypeError, ValueError)):
        analyzer.compute(case.name, no_such_setting=1)
    _assert_same(_data(analyzer.get_extension(case.name)), expected)
    reloaded = load_sorting_analyzer(tmp_path / "an")
    _assert_same(_data(reloaded.get_extension(case.name)), expected)


def test_registration_survives_a_module_reload(case):
    from spikeinterface.core.sortinganalyzer import get_extension_class

    from si_amortized.extension_support import register_extension

    original = get_extension_class(case.name)
    module = importlib.import_module(original.__module__)
    try:
        reloaded = importlib.reload(module)  # registers a new class under the same name
        new_class = getattr(reloaded, original.__name__)
        assert new_class is not original
        assert get_extension_class(case.name) is new_class
    finally:  # the rest of the session keeps the classes it imported
        setattr(module, original.__name__, original)
        register_extension(original)
    assert get_extension_class(case.name) is original
