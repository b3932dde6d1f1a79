"""Configs: the renamed training field (``lr`` -> ``learning_rate``), JSON round trips, records of earlier versions."""

import dataclasses
import json
import warnings

import pytest

from si_amortized.nemo.config import TrainConfig, train_config_from_dict
from si_amortized.nemo.io import pretrained_record


def test_train_config_round_trips_through_asdict_and_json():
    config = TrainConfig(epochs=3, learning_rate=2e-3)
    stored = json.loads(json.dumps(dataclasses.asdict(config)))
    assert "lr" not in stored and stored["learning_rate"] == 2e-3
    assert train_config_from_dict(stored) == config == TrainConfig(**stored)
    assert dataclasses.replace(config, epochs=4) == TrainConfig(epochs=4, learning_rate=2e-3)
    with pytest.raises(ValueError, match="unknown TrainConfig fields"):
        train_config_from_dict({"learning_rat": 1e-3})


def test_old_lr_keyword_and_attribute_warn_and_still_work():
    with pytest.warns(DeprecationWarning, match="lr is now learning_rate"):
        config = TrainConfig(epochs=3, lr=2e-3)
    assert config == TrainConfig(epochs=3, learning_rate=2e-3)
    with pytest.warns(DeprecationWarning, match="lr is now learning_rate"):
        assert config.lr == 2e-3
    with pytest.raises(TypeError, match="both"):
        TrainConfig(lr=1e-3, learning_rate=2e-3)


def test_stored_records_with_lr_load_without_a_warning():
    stored = pretrained_record()["train_config"]
    assert stored["lr"] == 5e-4  # the packaged model's record predates the rename
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        config = train_config_from_dict(stored)
    assert config.learning_rate == 5e-4 and config.epochs == stored["epochs"]
