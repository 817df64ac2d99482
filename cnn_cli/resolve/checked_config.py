"""The one way a command loads a config: its schema, its own cross-field checks and the checks that need the
model's graph (`model_checks`), every problem one line naming the file or the `--set`, and the dotted key."""

from __future__ import annotations

import typing
from pathlib import Path
from typing import Any

from cnn_cli import config as schema
from cnn_cli.config import Config
from cnn_cli.config.overrides import Override
from cnn_cli.model.call_checks import raw_problems
from cnn_cli.resolve.model_checks import config_problems


def load_config(path: str | Path, overrides: typing.Sequence[str | Override] = (),
                varied: typing.Sequence[str] = ()) -> Config:
    """Reads a YAML config file, sets `overrides` then `varied` (see `cnn_cli.config.load_config`) and checks
    all of it, the model's graph included."""
    return schema.load_config(path, overrides, varied, checks=config_problems, raw_checks=raw_problems)


def config_from_dict(raw: Any, source: str, overrides: typing.Sequence[str | Override] = (),
                     varied: typing.Sequence[str] = ()) -> Config:
    """As `load_config`, for raw data read from `source`."""
    return schema.config_from_dict(raw, source, overrides, varied, checks=config_problems, raw_checks=raw_problems)
