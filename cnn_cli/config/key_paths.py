"""Where a pydantic validation error is, in the words of the user's config: the dotted key path and the value.

Pydantic's error location (`loc`) follows its validation schema, which adds a step the config does not have
at every union: the tag of a tagged union (`model.layers.0.conv2d.strides`) and the member's name of a plain
union (`strides.constrained-int`, `strides.tuple[...].1`). `locate` walks the same schema (pydantic's core
schema of `Config`), so it knows exactly which steps are union members and drops those, and knows the mapping
a key belongs to (to list the keys it accepts) and the kind of value expected at the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pydantic_core import SchemaValidator

from cnn_cli.config.root import Config

_WRAPPERS = {"default", "nullable", "model", "function-before", "function-after", "function-wrap",
             "lax-or-strict", "json-or-python"}


@dataclass
class Location:
    """An error's place: `path` (keys and list indices, as the user writes them), the schema expected there
    (`schema`, core-schema dict), the keys of the mapping the last key belongs to (`keys`), and `union_at`,
    the length of `path` where pydantic first branched into a union's members (None when it did not)."""

    path: list
    schema: dict | None
    keys: tuple[str, ...] = ()
    union_at: int | None = None


def locate(loc: tuple, root: Any = None) -> Location:
    """The user's path for pydantic's `loc` in the schema of `root` (a pydantic model class, default Config)."""
    schema = (root or Config).__pydantic_core_schema__
    definitions: dict[str, dict] = {}
    found = _walk(schema, list(loc), Location([], None), definitions)
    return found or Location(list(loc), None)  # not a path through the schema: pydantic's own words, unchanged


def _unwrap(schema: dict, definitions: dict[str, dict]) -> dict:
    while True:
        kind = schema["type"]
        if kind == "definitions":
            definitions.update({d["ref"]: d for d in schema["definitions"]})
            schema = schema["schema"]
        elif kind == "definition-ref":
            schema = definitions[schema["schema_ref"]]
        elif kind in _WRAPPERS and "schema" in schema:
            schema = schema["schema"]
        else:
            return schema


def _walk(schema: dict | None, loc: list, where: Location, definitions: dict[str, dict]) -> Location | None:
    """Follows `loc` down `schema`; None when `loc` cannot be a path through it (a union member that does not fit)."""
    if schema is None:
        return Location(where.path + loc, None, where.keys, where.union_at) if all(
            isinstance(p, (int, str)) for p in loc) else None
    schema = _unwrap(schema, definitions)
    if not loc:
        return Location(where.path, schema, where.keys, where.union_at)
    part, rest, kind = loc[0], loc[1:], schema["type"]
    if kind in ("union", "tagged-union"):
        if kind == "tagged-union":
            members, union_at = [schema["choices"][part]] if part in schema["choices"] else [], where.union_at
        else:
            members = [m for m, label in _members(schema, definitions) if label == part] or [
                m for m, _ in _members(schema, definitions)]
            union_at = len(where.path) if where.union_at is None else where.union_at
        for member in members:  # the member pydantic named; failing that, the one the rest of `loc` fits
            found = _walk(member, rest, Location(where.path, None, where.keys, union_at), definitions)
            if found is not None:
                return found
        return None
    if kind in ("model-fields", "typed-dict") and isinstance(part, str):
        fields = schema["fields"]
        child = fields[part]["schema"] if part in fields else None
        return _walk(child, rest, Location(where.path + [part], None, tuple(fields), where.union_at), definitions)
    if kind in ("list", "set", "frozenset") and isinstance(part, int):
        return _walk(schema.get("items_schema"), rest, _step(where, part), definitions)
    if kind == "tuple" and isinstance(part, int):
        items, variadic = schema.get("items_schema", []), schema.get("variadic_item_index")
        if part < len(items) or variadic is not None:
            child = items[part] if part < len(items) else items[variadic]
            return _walk(child, rest, _step(where, part), definitions)
        return None
    if kind == "dict":
        return _walk(schema.get("values_schema"), rest, _step(where, part), definitions)
    return None


def _members(union: dict, definitions: dict[str, dict]) -> list[tuple[dict, str | None]]:
    """A plain union's members, each with the name pydantic gives it in `loc` (its validator's title)."""
    members = []
    for choice in union["choices"]:
        if isinstance(choice, tuple):  # a member with a label of its own
            members.append(choice)
            continue
        inner = _unwrap(choice, definitions)
        if inner["type"] == "model-fields" and choice["type"] == "definition-ref":
            label = definitions[choice["schema_ref"]]["cls"].__name__
        else:
            try:
                label = SchemaValidator(choice).title
            except Exception:  # noqa: BLE001 - a member that refers to other definitions: matched by what follows
                label = None
        members.append((choice, label))
    return members


def _step(where: Location, part: Any) -> Location:
    return Location(where.path + [part], None, (), where.union_at)


def dotted(path: list) -> str:
    """`['model', 'layers', 0, 'filters']` -> `model.layers[0].filters`."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def value_at(raw: Any, path: list) -> tuple[list, Any, bool]:
    """How far `path` goes into the user's data: the part of it that exists (keys of mappings, indices of
    lists), the value there, and whether all of `path` exists. A missing key of a mapping is kept in the
    path (it names what is missing); a step into a value that is not a mapping or list is not (the value
    is a shorthand, such as `optimizer: adam`, and it is what is wrong)."""
    node, kept = raw, []
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        elif isinstance(node, dict):
            return kept + [part], None, False
        else:
            return kept, node, True
        kept.append(part)
    return kept, node, True
