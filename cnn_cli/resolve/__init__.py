"""Configs checked against everything they name: the config's schema (`cnn_cli.config`) together with the
model's graph (`model_checks`), and what a command works on (`inputs`: the config of a file or a run directory,
the input shape and class count from the config or the data)."""

from cnn_cli.resolve.checked_config import config_from_dict, load_config

__all__ = ["config_from_dict", "load_config"]
