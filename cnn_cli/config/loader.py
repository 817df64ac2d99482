"""Turns raw YAML data into a validated `Config`, with one-line errors that carry the dotted key path."""

from __future__ import annotations

import copy
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from cnn_cli.config.root import Config
from cnn_cli.errors import ConfigError
from cnn_cli.layers.registry import names as layer_names
from cnn_cli.yaml_io import parse_scalar, read_yaml


def load_config(path: str | Path, overrides: typing.Sequence[str] = ()) -> Config:
    """Reads, overrides (`key.path=value`) and validates a YAML config file."""
    raw = read_yaml(path)
    return config_from_dict(apply_overrides(raw, overrides, str(path)), str(path))


def config_from_dict(raw: Any, source: str) -> Config:
    """Validates a raw dict; the first problem found raises ConfigError naming `source` and the key path."""
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "expected a mapping with keys name, model, data, train", raw)
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        raise _to_config_error(_best_error(exc.errors(), raw), raw, source) from None
    from cnn_cli.config.checks import check_config

    check_config(config, source)
    return config


def apply_overrides(raw: Any, overrides: typing.Sequence[str], source: str = "--set") -> Any:
    """Returns a copy of `raw` with each `dotted.key=value` set (value parsed as YAML)."""
    if not overrides:
        return raw
    raw = copy.deepcopy(raw) if isinstance(raw, dict) else {}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError("--set", item, "expected key.path=value")
        parts = key.strip().split(".")
        node = raw
        for i, part in enumerate(parts[:-1]):
            child = node.get(part) if isinstance(node, dict) else None
            if child is None:
                child = node[part] = {}
            elif isinstance(child, str):  # a shorthand such as `optimizer: adam` is `{name: adam}`
                child = node[part] = {"name": child}
            if not isinstance(child, dict):
                raise ConfigError("--set", ".".join(parts[: i + 1]), "cannot set a key inside a non-mapping value", child)
            node = child
        node[parts[-1]] = parse_scalar(text)
    return raw


_LAYER_NAMES = set(layer_names()) | {"block"}  # the union tags pydantic puts in error locations


def _clean_path(loc: tuple, raw: Any) -> tuple[list, Any, bool]:
    """Drops the union-member names pydantic puts in error locations, keeping only the keys present in `raw`.

    Returns the cleaned path, the raw value there, and whether the last key exists in `raw`.
    """
    path: list = []
    node, found = raw, True
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(part, str) and (part in _LAYER_NAMES or not isinstance(node, dict) or "[" in part or part[:1].isupper()):
            continue  # a union tag such as 'conv2d', 'int' or 'tuple[int, int]'
        else:
            path.append(part)
            node, found = None, False
    return path, node, found


def _dotted(path: list) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _model_at(path: list, raw: Any) -> type[BaseModel] | None:
    """The schema class of the mapping at `path` (used to list the keys it accepts)."""
    cls: Any = Config
    node = raw
    for part in path:
        if not (isinstance(cls, type) and issubclass(cls, BaseModel)) or part not in cls.model_fields:
            if isinstance(part, int) and cls is not None:
                node = node[part] if isinstance(node, list) and part < len(node) else None
                cls = _pick(cls, node)
                continue
            return None
        cls = cls.model_fields[part].annotation
        node = node.get(part) if isinstance(node, dict) else None
        cls = _pick(cls, node)
    return cls if isinstance(cls, type) and issubclass(cls, BaseModel) else None


def _pick(annotation: Any, node: Any) -> Any:
    """Unwraps Optional/Annotated/list/Union down to the model class that fits `node`."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _pick(typing.get_args(annotation)[0], node)
    if origin in (typing.Union, types.UnionType):
        members = [typing.get_args(a)[0] if typing.get_origin(a) is typing.Annotated else a for a in typing.get_args(annotation)]
        models = [a for a in members if isinstance(a, type) and issubclass(a, BaseModel)]
        if isinstance(node, dict) and "type" in node:
            models = [m for m in models if "type" in m.model_fields and node["type"] in typing.get_args(m.model_fields["type"].annotation)] or models
        inner = [a for a in typing.get_args(annotation) if typing.get_origin(a) in (list, typing.Annotated)]
        if models:
            return models[0]
        return _pick(inner[0], node) if inner else None
    if origin is list:
        return typing.get_args(annotation)[0]
    return annotation


_SCALAR_ERRORS = {"int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "string_type", "bool_type", "bool_parsing", "literal_error"}
_COLLECTION_ERRORS = {"tuple_type", "list_type", "dict_type", "model_type", "model_attributes_type"}


def _best_error(errors: list[dict], raw: Any) -> dict:
    """Of the errors pydantic gives for the first bad value (one per member of a union), the one that
    fits what the user wrote: for a list, what is wrong with the list; for a scalar, what is wrong with it."""
    first = errors[0]
    path = _clean_path(tuple(first["loc"]), raw)[0]
    same = [e for e in errors if _clean_path(tuple(e["loc"]), raw)[0] == path]
    value = first.get("input")
    avoid = _SCALAR_ERRORS if isinstance(value, (list, dict)) else _COLLECTION_ERRORS
    return next((e for e in same if e["type"] not in avoid), first)


def _expected(error: dict) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    msg = error["msg"]
    if kind == "missing":
        return "required key is missing"
    if kind in ("int_type", "int_parsing", "int_from_float"):
        return "expected an integer"
    if kind in ("float_type", "float_parsing"):
        return "expected a number"
    if kind in ("bool_type", "bool_parsing"):
        return "expected true or false"
    if kind in ("string_type",):
        return "expected a string"
    if kind in ("list_type",):
        return "expected a list"
    if kind in ("tuple_type",):
        return "expected a list"
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "expected a mapping"
    if kind == "greater_than" and ctx.get("gt") == 0:
        return "expected a positive integer" if error.get("integer_field") else "expected a positive number"
    if kind == "string_pattern_mismatch":
        return "expected letters, digits, '_', '-' or '.', starting with a letter or digit"
    if kind in ("too_short", "too_long"):
        return msg.replace("Tuple should have", "expected").replace("List should have", "expected").replace(" after validation", "")
    if msg.startswith("Input should be "):
        return "expected " + msg[len("Input should be "):]
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    return msg[0].lower() + msg[1:]


def _to_config_error(error: dict, raw: Any, source: str) -> ConfigError:
    path, value, found = _clean_path(tuple(error["loc"]), raw)
    kind = error["type"]
    if kind == "union_tag_invalid":
        return ConfigError(source, _dotted(path + ["type"]), f"unknown layer type; expected one of: {', '.join(layer_names())}", error["input"].get("type") if isinstance(error["input"], dict) else error["input"])
    if kind == "union_tag_not_found":
        return ConfigError(source, _dotted(path + ["type"]), f"required key is missing; expected one of: {', '.join(layer_names())}")
    if kind == "extra_forbidden":
        model = _model_at(path[:-1], raw)
        known = ", ".join(model.model_fields) if model else ""
        return ConfigError(source, _dotted(path), f"unknown key; expected one of: {known}" if known else "unknown key", value)
    if kind == "missing" and path and isinstance(path[-1], int):
        parent = path[:-1]
        return ConfigError(source, _dotted(parent), "expected more items", _clean_path(tuple(parent), raw)[1])
    if kind == "missing" or not found:
        return ConfigError(source, _dotted(path), _expected(error))
    model = _model_at(path[:-1], raw)
    field = model.model_fields.get(path[-1]) if model and path and isinstance(path[-1], str) else None
    error = {**error, "integer_field": field is not None and "int" in str(field.annotation) and "float" not in str(field.annotation)}
    return ConfigError(source, _dotted(path), _expected(error), value)
