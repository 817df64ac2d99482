"""The registry of source schemas: every module of `cnn_cli.config.sources` is found with pkgutil, and every
`SourceSchema` subclass with a `name` in it is a source, so adding a source's keys is adding one file (its
reader is one file of `cnn_cli.data.sources`). A source defined elsewhere (a test's) is added with `register`.

It gives the names (the values of `data.source`), lookup by name, and what `cnn_cli.config.data` builds the
`data:` section from: the sources' own keys and the forms of the split keys.
"""

from __future__ import annotations

import functools
from typing import Any, Union

import cnn_cli.config.sources as package
from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.module_classes import classes_in

NOT_SOURCES = {"base", "registry"}
_added: dict[str, type[SourceSchema]] = {}
_keys_taken = False  # set once the data section has been built from the sources' keys


@functools.cache
def _found() -> dict[str, type[SourceSchema]]:
    found: dict[str, type[SourceSchema]] = {}
    for value in classes_in(package, SourceSchema, NOT_SOURCES):
        if value.name:
            if value.name in found:
                raise AssertionError(f"data source {value.name!r} is defined twice: {found[value.name]} and {value}")
            found[value.name] = value
    return found


def schemas() -> dict[str, type[SourceSchema]]:
    """Every source, by name, in listing order (`SourceSchema.order`, then the name)."""
    every = {**_found(), **_added}
    return dict(sorted(every.items(), key=lambda item: (item[1].order, item[0])))


def names() -> list[str]:
    return list(schemas())


def lookup(name: str) -> type[SourceSchema] | None:
    return schemas().get(name)


def register(schema: type[SourceSchema]) -> type[SourceSchema]:
    """Adds a source defined outside this package (usable as a class decorator). Once the `data:` section is
    built, such a source reads the keys that are there: keys of its own need a module in this package."""
    if not schema.name:
        raise ValueError(f"{schema.__name__} has no name")
    known = lookup(schema.name)
    if known is not None and known is not schema:
        raise ValueError(f"data source {schema.name!r} is already registered ({known.__module__}.{known.__name__})")
    if _keys_taken and set(schema.model_fields) - set(source_fields()):
        raise ValueError(f"data source {schema.name!r}: keys of its own ({', '.join(sorted(schema.model_fields))}) "
                         f"need a module in {package.__name__}")
    _added[schema.name] = schema
    return schema


def unregister(name: str) -> None:
    """Removes a source added with `register`."""
    _added.pop(name, None)


def source_fields() -> dict[str, tuple[Any, Any]]:
    """The sources' own keys, {key: (annotation, FieldInfo)}, in listing order; a key two sources declare must
    be declared alike."""
    global _keys_taken
    _keys_taken = True
    fields: dict[str, tuple[Any, Any]] = {}
    owner: dict[str, str] = {}
    for name, schema in schemas().items():
        for key, info in schema.model_fields.items():
            if key in fields and fields[key][0] != info.annotation:
                raise AssertionError(f"data.{key} is declared by sources {owner[key]!r} and {name!r} with different types")
            if key not in fields:
                fields[key], owner[key] = (info.annotation, info), name
    return fields


def split_type() -> Any:
    """The union of the forms the sources' split keys (`data.train`, `data.validation`, `data.test`) take."""
    forms: list[Any] = []
    for schema in schemas().values():
        forms.extend(form for form in schema.split_types if form not in forms)
    return Union[tuple(forms)] if forms else str  # noqa: UP007 (a runtime union)


def dumped(data: Any, raw: dict) -> None:
    """`raw`, the `data:` section as a run's config.yaml writes it, adjusted by every source's keys."""
    for schema in schemas().values():
        schema.dumped(data, raw)
