"""The YAML reader: safe loading, numbers written the way people write them, duplicate keys refused."""

import pytest

from cnn_cli.config.yaml_io import parse_scalar, parse_yaml
from cnn_cli.errors import ConfigError


def test_exponent_without_dot_is_a_number():
    assert parse_yaml("a: 1e-3\nb: 2E+2\nc: 1.5e-4\nd: .5", "x") == {"a": 0.001, "b": 200.0, "c": 1.5e-4, "d": 0.5}


def test_plain_strings_stay_strings():
    assert parse_yaml("a: e3\nb: 1e\nc: same", "x") == {"a": "e3", "b": "1e", "c": "same"}


def test_duplicate_keys_are_refused_at_any_depth():
    with pytest.raises(ConfigError, match=r"x.yaml: duplicate key 'lr' \(line 3\)"):
        parse_yaml("train:\n  lr: 1\n  lr: 2\n", "x.yaml")


def test_scalar_overrides():
    assert parse_scalar("1e-4") == 0.0001
    assert parse_scalar("adam") == "adam"
    assert parse_scalar("[3, 5]") == [3, 5]
    assert parse_scalar("true") is True
