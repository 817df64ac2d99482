"""The registry of data sources: every module of `cnn_cli.data.sources` is found with pkgutil, and every
`DataSource` subclass in it whose schema has a name is a source, so adding a source is adding one file here
(and its schema, one file of `cnn_cli.config.sources`). A source defined elsewhere (a test's) is added with
`register`, which registers its schema too.

It gives the names, lookup by name, and the detection of a `--data PATH` (`detect`), tried source by source.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import TYPE_CHECKING

import cnn_cli.data.sources as package
from cnn_cli.config.sources import registry as schemas
from cnn_cli.data.sources.base import DataSource, Detected
from cnn_cli.errors import DataError
from cnn_cli.module_classes import classes_in

if TYPE_CHECKING:
    from cnn_cli.config.data import DataConfig

NOT_SOURCES = {"base", "registry", "reading"}
_added: dict[str, DataSource] = {}


@functools.cache
def _found() -> dict[str, DataSource]:
    found: dict[str, DataSource] = {}
    for value in classes_in(package, DataSource, NOT_SOURCES):
        if value.schema is not None and value.schema.name:
            name = value.schema.name
            if name in found:
                raise AssertionError(f"data source {name!r} is read by two classes: {type(found[name])} and {value}")
            if schemas.lookup(name) is not value.schema:
                raise AssertionError(f"data source {name!r}: its schema {value.schema} is not the registered one")
            found[name] = value()
    return found


def sources() -> dict[str, DataSource]:
    """Every source, by name, in the schemas' listing order."""
    every = {**_found(), **_added}
    return {name: every[name] for name in schemas.names() if name in every}


def names() -> list[str]:
    return list(sources())


def lookup(name: str) -> DataSource:
    """The reader of source `name` (a validated config names a registered one)."""
    found = sources().get(name)
    if found is None:
        raise KeyError(f"no reader is registered for data source {name!r}")
    return found


def register(source: type[DataSource]) -> type[DataSource]:
    """Adds a source defined outside this package, and its schema (usable as a class decorator)."""
    schemas.register(source.schema)
    _added[source.schema.name] = source()
    return source


def unregister(name: str) -> None:
    """Removes a source added with `register`, and its schema."""
    _added.pop(name, None)
    schemas.unregister(name)


def detect(given: str, base: DataConfig | None) -> Detected:
    """`--data PATH`: the section that reads it, from the first source (by `detect_order`) that takes it."""
    path = Path(given).expanduser()
    if not path.exists():
        raise DataError(given, "no such file or folder (--data)")
    ordered = sorted(sources().values(), key=lambda s: s.detect_order)
    for source in ordered:
        found = source.detect(path, given, base)
        if found is not None:
            return found
    suffixes = [suffix for source in sources().values() for suffix in source.suffixes]
    words = ([f"an {' or '.join(suffixes)} file"] if suffixes else []) + [s.detects for s in sources().values() if s.detects]
    expected = " or ".join([", ".join(words[:-1]), words[-1]]) if len(words) > 1 else "".join(words)
    raise DataError(given, f"unknown kind of data; expected {expected}")
