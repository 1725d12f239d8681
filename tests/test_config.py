from dataclasses import dataclass
from typing import Literal

import pytest

from genlab.config import TrainConfig, apply_overrides, coerce, from_dict, parse_sets, to_dict
from genlab.errors import ConfigError


@dataclass(frozen=True)
class Example:
    width: int = 4
    rate: float = 0.1
    kind: Literal["a", "b"] = "a"
    flag: bool = False
    sizes: tuple[int, ...] = (1, 2)
    name: str = "x"


def test_round_trip_through_dict():
    cfg = Example(width=8, sizes=(3, 4))
    assert from_dict(Example, to_dict(cfg)) == cfg
    assert to_dict(cfg)["sizes"] == [3, 4]


@pytest.mark.parametrize(
    ("key", "text", "value"),
    [
        ("width", "12", 12),
        ("rate", "1e-3", 1e-3),
        ("kind", "b", "b"),
        ("flag", "true", True),
        ("sizes", "4,8", (4, 8)),
        ("name", "y", "y"),
    ],
)
def test_set_values_are_parsed_to_the_field_type(key, text, value):
    (cfg,) = apply_overrides([Example()], {key: text})
    assert getattr(cfg, key) == value


@pytest.mark.parametrize(
    ("key", "text"), [("width", "1.5"), ("width", "abc"), ("rate", "fast"), ("kind", "c"), ("flag", "maybe")]
)
def test_bad_values_are_errors(key, text):
    with pytest.raises(ConfigError, match=key):
        apply_overrides([Example()], {key: text})


def test_unknown_key_lists_the_known_ones():
    with pytest.raises(ConfigError, match="unknown config key.*wdth.*known keys: .*width"):
        apply_overrides([Example(), TrainConfig()], {"wdth": "3"})
    with pytest.raises(ConfigError, match="unknown Example key"):
        from_dict(Example, {"nope": 1})


def test_overrides_go_to_the_config_that_owns_the_key():
    ex, tc = apply_overrides([Example(), TrainConfig()], {"width": "2", "batch_size": "16"})
    assert ex.width == 2 and tc.batch_size == 16


def test_parse_sets():
    assert parse_sets(["a=1", " b = x=y "]) == {"a": "1", "b": "x=y"}
    with pytest.raises(ConfigError, match="key=value"):
        parse_sets(["novalue"])


def test_train_config_check():
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0).check()
    with pytest.raises(ConfigError, match="steps"):
        TrainConfig(steps=-1).check()


def test_coerce_rejects_bool_for_numbers():
    with pytest.raises(ConfigError):
        coerce("width", int, True)
