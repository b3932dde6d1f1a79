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
    # the train_config of a record written before the rename (the earlier packaged model's)
    stored = {"epochs": 800, "batch_size": 256, "lr": 0.0005, "t0_epochs": 20, "eval_every": 10,
              "val_fraction": 0.1, "weight_decay": 0.0}
    with warnings.catch_warnings():
        warnings.simplefilter("error", DeprecationWarning)
        config = train_config_from_dict(stored)
    assert config.learning_rate == 5e-4 and config.epochs == stored["epochs"]
    # the packaged model's own record loads too, whichever name it holds
    record = pretrained_record()["train_config"]
    assert train_config_from_dict(record).epochs == record["epochs"]


def test_packaged_model_record_states_its_corpus_and_the_cells_it_never_saw():
    record = pretrained_record()
    corpus = record["corpus"]
    assert "synthesize_unit_corpus" in corpus["generator"] and corpus["num_templates"] >= 400
    assert "seed(s) [2]" in corpus["not_trained_on"] and "test fold" in corpus["not_trained_on"]
    assert not any("seed=2" in t for t in corpus["templates"])
    assert record["data"]["num_units"] >= 5000 and len(record["data"]["mtype_counts"]) == 13
    assert record["config"]["waveform"]["num_channels"] == 9
    # a model continued from an earlier one names that one's training too, and none saw template seed 2
    lineage, commands = record, []
    while lineage:
        commands.append(lineage["command"])
        lineage = lineage.get("initialised_from")
    for command in commands:
        seeds = command.split("--template-seeds")[1].split("--")[0].split()
        assert seeds and "2" not in seeds, command
    if "--init-model" in record["command"]:
        assert len(commands) >= 2 and "loss" in record
