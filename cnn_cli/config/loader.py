"""Turns a YAML file (or raw data) and command-line overrides into a validated `Config`.

Every problem is one `ConfigError` line that names where it came from (the file, or `--set`/`--vary` when the
bad value was given there), the dotted key path (`model.layers[0].strides[1]`) and what was expected. A config
with several mistakes raises them all at once (`ConfigErrors`, in file order, capped): the type and range
errors of every key, or, when those pass, the cross-field checks (`checks.py`).
"""

from __future__ import annotations

import math
import typing
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from cnn_cli.config.checks import config_problems
from cnn_cli.config.key_paths import Location, dotted, locate, value_at
from cnn_cli.config.overrides import Override, apply_overrides, blame, parse_override
from cnn_cli.config.root import Config
from cnn_cli.config.sources.manifest import manifest_task
from cnn_cli.config.yaml_io import read_yaml
from cnn_cli.errors import ConfigError, ConfigErrors

__all__ = ["Override", "apply_overrides", "config_from_dict", "load_config"]


Checks = typing.Callable[[Config, str], "list[ConfigError]"]
RawChecks = typing.Callable[[Any, str, "list[list]"], "list[ConfigError]"]
"""Checks of a config whose schema failed: the raw data, its source and where the schema's mistakes are."""


def load_config(path: str | Path, overrides: typing.Sequence[str | Override] = (),
                varied: typing.Sequence[str] = (), checks: Checks = config_problems,
                raw_checks: RawChecks | None = None) -> Config:
    """Reads a YAML config file, sets `overrides` (`--set key.path=value`, or `Override`s such as
    `Override(("train", "epochs"), 3, "--epochs")` for other flags) then `varied` (`--vary`'s choice of values,
    `key.path=value`), and validates it: its schema, then `checks` (the config's own cross-field checks;
    `cnn_cli.resolve.load_config` adds those that need the model's graph, and `raw_checks`, those that still
    run when the schema fails: the block calls')."""
    return config_from_dict(read_yaml(path), str(path), overrides, varied, checks, raw_checks)


def config_from_dict(raw: Any, source: str, overrides: typing.Sequence[str | Override] = (),
                     varied: typing.Sequence[str] = (), checks: Checks = config_problems,
                     raw_checks: RawChecks | None = None) -> Config:
    """Validates raw data read from `source`, after setting the overrides (as `load_config`). An error in a
    value that an override set names its flag (`--set: train.optimizer.learning_rate: ...`), any other `source`."""
    given = [item if isinstance(item, Override) else parse_override(item, "--set") for item in overrides]
    given += [parse_override(item, "--vary") for item in varied]
    if given:
        raw = apply_overrides(raw, given)
    if not isinstance(raw, dict):
        raise ConfigError(source, "", "expected a mapping with keys name, model, data, train", raw)
    infinite = [ConfigError(source, dotted(path), "expected a finite number", value)
                for path, value in _non_finite(raw, [])]
    if infinite:
        raise ConfigErrors.of([blame(error, given) for error in infinite[: ConfigErrors.CAP + 1]])
    try:
        raw = manifest_task(raw, source)
    except ConfigError as error:
        raise ConfigErrors.of([blame(error, given)]) from None
    try:
        config = Config.model_validate(raw)
    except ValidationError as exc:
        found = [(_to_config_error(group, raw, source), locate(tuple(group[0]["loc"])).path)
                 for group in _grouped(exc.errors(), raw)]
        if raw_checks is not None:
            found += [(error, parse_dotted(error.path)) for error in raw_checks(raw, source, [p for _, p in found])]
        found.sort(key=lambda pair: file_order(raw, pair[1]))
        raise ConfigErrors.of([blame(error, given) for error, _ in found]) from None
    config = config.with_origin(source, given)
    problems = checks(config, source)
    if problems:
        problems.sort(key=lambda error: file_order(raw, parse_dotted(error.path)))
        raise ConfigErrors.of([blame(error, given) for error in problems]) from None
    return config


def _non_finite(node: Any, path: list) -> typing.Iterator[tuple[list, float]]:
    """Every infinite or NaN number in the user's data (`.inf`, `.nan`, or digits past float's range), with its
    place, in file order: no config value is meant to be one."""
    if isinstance(node, float) and not math.isfinite(node):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _non_finite(value, [*path, key])
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _non_finite(value, [*path, index])


def _grouped(errors: list[dict], raw: Any) -> list[list[dict]]:
    """Pydantic's errors, one group per wrong value: the alternatives a union's members give for one value are
    one group (`_best_errors` picks those that fit what the user wrote)."""
    groups, remaining = [], list(errors)
    while remaining:
        first = locate(tuple(remaining[0]["loc"]))
        groups.append(_best_errors(remaining, raw))
        remaining = [e for e in remaining if not _same_value(e, remaining[0], first)]
    return groups


def _same_value(error: dict, first_error: dict, first: Location) -> bool:
    """Whether `error` is about the value `first_error` is (an alternative of the same union, or the same place)."""
    if first.union_at is None:
        return tuple(error["loc"]) == tuple(first_error["loc"])
    where = locate(tuple(error["loc"]))
    return where.union_at == first.union_at and where.path[: first.union_at] == first.path[: first.union_at]


def file_order(raw: Any, path: list) -> tuple:
    """Where `path` is in the user's data, as a sort key: each step's position among its mapping's keys (as
    written) or its list index; a key that is not there comes after those that are."""
    key, node = [], raw
    for part in path:
        if isinstance(node, dict):
            keys = list(node)
            key.append(keys.index(part) if part in node else len(keys))
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int):
            key.append(part)
            node = node[part] if 0 <= part < len(node) else None
        else:
            break
    return tuple(key)


def parse_dotted(path: str) -> list:
    """`model.layers[0].filters` -> `['model', 'layers', 0, 'filters']` (the inverse of `dotted`)."""
    import re

    return [int(index) if index else name for name, index in re.findall(r"([^.\[\]]+)|\[(\d+)\]", path)
            if name or index] if path else []


def _best_errors(errors: list[dict], raw: Any) -> list[dict]:
    """Pydantic reports a bad value once per member of a union (an int, or a pair?); of the first value's
    errors, those of the members that fit what the user wrote best: the ones that go deepest into it, and
    for a single value, the complaints about it rather than that it is not a list (one or more, best first)."""
    places = [locate(tuple(error["loc"])) for error in errors]
    first = places[0]
    if first.union_at is None:
        return errors[:1]
    stem = first.path[: first.union_at]
    same = [(error, where) for error, where in zip(errors, places)
            if where.union_at == first.union_at and where.path[: first.union_at] == stem]
    avoid = _SCALAR_ERRORS if isinstance(value_at(raw, stem)[1], (list, dict)) else _COLLECTION_ERRORS

    def fit(pair: tuple[dict, Location]) -> tuple[int, bool]:
        return len(value_at(raw, pair[1].path)[0]), pair[0]["type"] not in avoid

    ranked = sorted(same, key=fit, reverse=True)  # stable: pydantic's order among equals
    best, path = fit(ranked[0]), ranked[0][1].path
    return [error for error, where in ranked if fit((error, where)) == best and where.path == path]


_SCALAR_ERRORS = {"int_type", "int_parsing", "int_from_float", "float_type", "float_parsing", "string_type",
                  "bool_type", "bool_parsing", "literal_error"}
_COLLECTION_ERRORS = {"tuple_type", "list_type", "dict_type", "model_type", "model_attributes_type"}
_TYPE_WORDS = {"int": "an integer", "float": "a number", "bool": "true or false", "str": "a string", "list": "a list",
               "tuple": "a list", "dict": "a mapping", "model": "a mapping", "model_attributes": "a mapping"}


def _expected(error: dict, where: Location) -> str:
    kind, ctx, msg = error["type"], error.get("ctx") or {}, error["msg"]
    if kind == "missing":
        return "required key is missing"
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
    if kind.endswith(("_type", "_parsing", "_from_float")) and base in _TYPE_WORDS:
        return f"expected {_TYPE_WORDS[base]}"
    bound = {"greater_than": "gt", "greater_than_equal": "ge"}.get(kind)
    if bound and ctx.get(bound) == 0:
        number = "integer" if where.schema and where.schema.get("type") == "int" else "number"
        return f"expected a {'positive' if bound == 'gt' else 'non-negative'} {number}"
    if kind == "string_pattern_mismatch":
        return "expected letters, digits, '_', '-' or '.', starting with a letter or digit"
    if kind in ("too_short", "too_long"):
        for prefix in ("Tuple should have", "List should have"):
            msg = msg.replace(prefix, "expected")
        return msg.replace(" after validation", "")
    if msg.startswith("Input should be "):
        return "expected " + msg[len("Input should be "):]
    if msg.startswith("Value error, "):
        return msg[len("Value error, "):]
    return msg[0].lower() + msg[1:]


def _to_config_error(errors: list[dict], raw: Any, source: str) -> ConfigError:
    """The error for the first of `errors`; the others are alternatives a union member would take there."""
    error = errors[0]
    where = locate(tuple(error["loc"]))
    path, value, found = value_at(raw, where.path)
    kind = error["type"]
    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tags = ", ".join(sorted(where.schema["choices"])) if where.schema else error["ctx"]["expected_tags"]
        if kind == "union_tag_not_found":
            return ConfigError(source, dotted(path + ["type"]), f"required key is missing; expected one of: {tags}")
        what = "layer type" if "layers" in path else "type"
        return ConfigError(source, dotted(path + ["type"]), f"unknown {what}; expected one of: {tags}",
                           value.get("type") if isinstance(value, dict) else value)
    if kind == "extra_forbidden":
        known = ", ".join(where.keys)
        return ConfigError(source, dotted(path), f"unknown key; expected one of: {known}" if known else "unknown key",
                           value)
    if kind == "missing" and found and isinstance(value, list):  # a list or pair that is too short
        return ConfigError(source, dotted(path), _items_expected(tuple(error["loc"])[:-1]), value)
    if kind == "missing" or not found:
        return ConfigError(source, dotted(path), _expected(error, where))
    return ConfigError(source, dotted(path), _either(errors), value)


def _items_expected(loc: tuple) -> str:
    """`expected 3 items` for a fixed-length list (a tuple in the schema) that is too short."""
    schema = locate(loc).schema
    if schema is not None and schema.get("type") == "tuple" and schema.get("variadic_item_index") is None:
        return f"expected {len(schema.get('items_schema', []))} items"
    return "expected more items"


def _either(errors: list[dict]) -> str:
    """`expected a positive integer or 'num_classes'`: what each union member would have taken."""
    texts: list[str] = []
    for error in errors:
        text = _expected(error, locate(tuple(error["loc"])))
        if text not in texts:
            texts.append(text)
    if len(texts) > 1 and all(t.startswith("expected ") for t in texts):
        return "expected " + " or ".join(t.removeprefix("expected ") for t in texts)
    return texts[0]


def layer_errors(raw_layer: dict, exc: ValidationError, source: str) -> list[ConfigError]:
    """Every problem of one layer validated on its own (a computed layer, a block's layer), in the tool's words
    (as the config's are), each with its path inside the layer (`filters`, `kernel_size[1]`; `` the layer)."""
    root = {"model": {"layers": [raw_layer]}}
    prefix = ["model", "layers", 0]
    found = []
    for group in _grouped([{**error, "loc": (*prefix, *error["loc"])} for error in exc.errors()], root):
        error = _to_config_error(group, root, source)
        found.append((error, parse_dotted(error.path)))
    found.sort(key=lambda pair: file_order(root, pair[1]))
    out = []
    for error, path in found:
        inner = path[len(prefix):] if path[: len(prefix)] == prefix else path
        out.append(ConfigError(source, dotted(inner), error.expected, error.received))
    return out
