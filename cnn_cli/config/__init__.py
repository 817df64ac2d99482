"""The config language: typed schemas for `model`, `data` and `train`, and the loader that checks a YAML file.

Only this package sees raw dicts; everything after it works with validated `Config` objects.
"""

from cnn_cli.config.loader import apply_overrides, config_from_dict, load_config
from cnn_cli.config.root import Config

__all__ = ["Config", "apply_overrides", "config_from_dict", "load_config"]
