"""Command-line overrides of a config: `--set key.path=value` and `--vary key.path=v1,v2,...`.

A key path is the one error messages print: dotted keys, and `[i]` for an item of a list, so
`model.layers[0].activation` or, for a block's parameter, `model.layers[2].filters_1x1`. The value is read
as YAML. Every mistake is a one-line `ConfigError` that names the flag it came from.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from cnn_cli.config.key_paths import dotted
from cnn_cli.config.root import given_by
from cnn_cli.config.yaml_io import parse_scalar
from cnn_cli.errors import ConfigError, ConfigErrors

_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*|\[[0-9]+\])*")
_STEP = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)|\[([0-9]+)\]")


@dataclass(frozen=True)
class Override:
    """One `key.path=value` from the command line, and the flag it was given with (`--set` or `--vary`)."""

    path: tuple
    value: Any
    flag: str = "--set"

    @property
    def key(self) -> str:
        return dotted(list(self.path))

    def covers(self, path: str) -> bool:
        """Whether an error at the dotted `path` lies at or below this override's key."""
        return path == self.key or path.startswith((self.key + ".", self.key + "["))


def parse_key(text: str, flag: str = "--set", item: str | None = None) -> tuple:
    """`model.layers[0].filters` -> `('model', 'layers', 0, 'filters')`; anything else is a ConfigError."""
    text = text.strip()
    if not _KEY.fullmatch(text):
        raise ConfigError(flag, item or text, _expected_form(flag))
    return tuple(name or int(index) for name, index in _STEP.findall(text))


def _expected_form(flag: str) -> str:
    values = "value1,value2,..." if flag == "--vary" else "value"
    return f"expected key.path={values} (keys joined by '.', [i] for an item of a list: model.layers[0].filters)"


def parse_override(item: str, flag: str = "--set") -> Override:
    """`key.path=value` (value read as YAML)."""
    key, sep, text = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(flag, item, _expected_form(flag))
    path = parse_key(key, flag, item)
    return Override(path, parse_scalar(text, f"{flag} {dotted(list(path))}"), flag)


def apply_overrides(raw: Any, overrides: Sequence[str | Override], flag: str = "--set") -> Any:
    """A copy of `raw` with each override set; a text item is parsed with `parse_override(item, flag)`."""
    if not overrides:
        return raw
    raw = copy.deepcopy(raw) if isinstance(raw, dict) else {}
    for item in overrides:
        override = item if isinstance(item, Override) else parse_override(item, flag)
        _set(raw, override)
    return raw


def _set(raw: dict, override: Override) -> None:
    node: Any = raw
    path = override.path
    for i, part in enumerate(path):
        last = i == len(path) - 1
        if isinstance(part, int):
            node = _item(node, path[:i], part, override, last)
        else:
            if isinstance(node, list):
                raise ConfigError(override.flag, dotted(list(path[:i])),
                                  f"is a list; name one of its items, as in {dotted([*path[:i], 0, *path[i:]])}")
            if not isinstance(node, dict):
                raise ConfigError(override.flag, dotted(list(path[:i])), "cannot set a key inside a non-mapping value",
                                  node)
            if last:
                node[part] = override.value
                return
            child = node.get(part)
            if child is None and not isinstance(path[i + 1], int):
                child = node[part] = {}
            elif isinstance(child, str) and not isinstance(path[i + 1], int):  # `optimizer: adam` is `{name: adam}`
                child = node[part] = {"name": child}
            node = child


def _item(node: Any, where: tuple, index: int, override: Override, last: bool) -> Any:
    """The list item at `index` of `node` (replaced by the override's value when it is the last step)."""
    if not isinstance(node, list):
        if node is None:
            raise ConfigError(override.flag, dotted([*where, index]), "cannot index: there is no list there")
        raise ConfigError(override.flag, dotted([*where, index]), "cannot index: not a list", node)
    if index >= len(node):
        count = f"{len(node)} item" + ("" if len(node) == 1 else "s")
        raise ConfigError(override.flag, dotted([*where, index]),
                          f"index out of range: {dotted(list(where))} has {count} (indices 0 to {len(node) - 1})"
                          if node else f"index out of range: {dotted(list(where))} is empty")
    if last:
        node[index] = override.value
    return node[index]


def data_flag_overrides(raw: Any, data_path: str | None) -> list[Override]:
    """With `--data PATH`, the source and its path come from the flag whatever else the config or `--set` says:
    where the data section (one that `--set data.image_shape=...` made, say) has no `source`, these overrides
    give it one of PATH's kind, for validation; the data is then read as `--data` says."""
    data = raw.get("data") if isinstance(raw, dict) else None
    if data_path is None or not isinstance(data, dict) or data.get("source") is not None:
        return []
    suffix = str(data_path).lower().rsplit(".", 1)[-1] if "." in str(data_path) else ""
    kind, key = {"csv": ("csv", "train"), "npz": ("npz", "path"), "jsonl": ("manifest", "path"),
                 "json": ("manifest", "path")}.get(suffix, ("folder", "path"))
    return [Override(("data", "source"), kind, "--data"), Override(("data", key), str(data_path), "--data")]


def data_shape_overrides(raw: Any, data_path: str | None) -> list[Override]:
    """With `--data PATH`, what the config file says of its own data's model is left to PATH's data: the class
    (or target) count, and the input shape unless the architecture needs it (`model.architecture`, a twin of a
    keras.applications model, or starting `model.weights`). Listed before the `--set` overrides, so that a
    `--set model.input_shape=...` still says."""
    model = raw.get("model") if isinstance(raw, dict) else None
    if data_path is None or not isinstance(model, dict):
        return []
    out = [Override(("model", key), None, "--data") for key in ("num_classes", "num_targets")
           if model.get(key) is not None]
    if model.get("input_shape") is not None and not (model.get("architecture") or model.get("weights")):
        out.append(Override(("model", "input_shape"), None, "--data"))
    return out


def blame(error: ConfigError, overrides: Sequence[str | Override]) -> ConfigError:
    """`error` named after the flag of the last override that set the value it is about (`--set:
    model.weights: ...`), else as it is; with several errors (`ConfigErrors`), each of them."""
    given = [item if isinstance(item, Override) else parse_override(item) for item in overrides]
    if isinstance(error, ConfigErrors):
        return ConfigErrors.of([_blame_one(e, given) for e in error.errors])
    return _blame_one(error, given)


def _blame_one(error: ConfigError, given: list[Override]) -> ConfigError:
    flag = given_by(error.path, given)
    return error.from_source(flag) if flag is not None else error
