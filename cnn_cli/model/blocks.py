"""The config's own blocks (`model.blocks`): a call's parameters checked against the definition, "$param"
filled in, and the block's layers validated as layers of the config are, with the dotted path of each."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import TypeAdapter, ValidationError

from cnn_cli.config.model import BlockCall, BlockDef, Layer
from cnn_cli.layers import registry

_ADAPTER: TypeAdapter | None = None


def block_layers(call: BlockCall, definition: BlockDef, def_path: str, call_path: str, error: Callable) -> list:
    """The layers of one use of a block, validated; `error(path, expected, *received)` makes the exception."""
    values = _params(call, definition.params, call_path, error)
    return [_validate(_substitute(raw, values, f"{def_path}[{j}]", error), f"{def_path}[{j}]", error)
            for j, raw in enumerate(definition.layers)]


def _params(call: BlockCall, declared: dict[str, Any], path: str, error: Callable) -> dict[str, Any]:
    given = call.params
    for key in given:
        if key not in declared:
            expected = ", ".join(declared) or "none"
            raise error(f"{path}.{key}", f"unknown parameter of block {call.type!r}; expected one of: {expected}", given[key])
    values = {**declared, **given}
    for key, value in values.items():
        if value is None:
            raise error(path, f"block {call.type!r} needs the parameter {key!r} (it has no default)")
    return values


def _substitute(raw: Any, values: dict[str, Any], path: str, error: Callable) -> Any:
    """Replaces every "$param" string in a block's layer by the parameter's value."""
    if isinstance(raw, dict):
        return {key: _substitute(value, values, f"{path}.{key}", error) for key, value in raw.items()}
    if isinstance(raw, list):
        return [_substitute(value, values, f"{path}[{i}]", error) for i, value in enumerate(raw)]
    if isinstance(raw, str) and raw.startswith("$"):
        if raw[1:] not in values:
            raise error(path, f"unknown block parameter; expected one of: {', '.join('$' + k for k in values) or 'none'}", raw)
        return values[raw[1:]]
    return raw


def _validate(raw: Any, path: str, error: Callable):
    global _ADAPTER
    if _ADAPTER is None:
        _ADAPTER = TypeAdapter(Layer)
    try:
        return _ADAPTER.validate_python(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"]
                      if p not in registry.kinds() and p != "block")
        raise error(path + loc, first["msg"][0].lower() + first["msg"][1:], first.get("input")) from None
