"""Tests for genlab.data.options and the data fields of TrainConfig (saved in config.yaml, checked, typed)."""

from __future__ import annotations

import pytest

from genlab.config import TrainConfig, apply_overrides, from_dict, to_dict
from genlab.data import DataOptions
from genlab.errors import ConfigError, DataError


def test_train_config_carries_the_data_options_and_round_trips():
    tc = from_dict(TrainConfig, {"dataset": "/data/photos", "image_size": 64, "channels": 3, "crop": "none"})
    options = tc.data_options()
    assert options == DataOptions(image_size=64, channels=3, crop="none")
    assert from_dict(TrainConfig, to_dict(tc)) == tc
    (tc,) = apply_overrides([tc], {"labels": "none", "test_fraction": "0.2", "strict": "true"})
    assert tc.data_options() == DataOptions(64, 3, "none", "none", 0.2, "white", True)


@pytest.mark.parametrize(
    "field, value, words",
    [
        ("image_size", 4, "image_size"),
        ("image_size", 4096, "image_size"),
        ("channels", 2, "channels"),
        ("test_fraction", 0.0, "test_fraction"),
        ("test_fraction", 1.0, "test_fraction"),
        ("background", "not-a-colour", "background"),
    ],
)
def test_bad_values_are_config_errors(field, value, words):
    with pytest.raises(ConfigError, match=words):
        TrainConfig(**{field: value}).check()
    with pytest.raises(DataError, match=words):
        DataOptions(**{field: value}).check()


def test_crop_and_labels_are_literals_checked_on_the_way_in():
    with pytest.raises(ConfigError, match="crop must be one of"):
        from_dict(TrainConfig, {"crop": "middle"})
    with pytest.raises(ConfigError, match="labels must be one of"):
        apply_overrides([TrainConfig()], {"labels": "dirs"})
