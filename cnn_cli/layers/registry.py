"""The registry of layer kinds: every module of `cnn_cli.layers` is found with pkgutil, and every
`LayerSpec` subclass with a `type` field in it is a kind, so adding a kind is adding one file.

It gives the names, lookup by name, the config union (for pydantic and the JSON Schema), and the registered
names of the custom Keras layers (for the safe-mode allow-list). Importing it imports no Keras/TensorFlow.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, Any, Union

from pydantic import Discriminator, Tag

import cnn_cli.layers as package
from cnn_cli.layers.base import Composite, LayerSpec
from cnn_cli.module_classes import classes_in

NOT_KINDS = {"base", "registry", "custom"}
CUSTOM_MODULES = ("cnn_cli.layers.custom", "cnn_cli.model.min_pooling")
"""Modules of the tool's own Keras layers (the second is where older run directories' MinPooling2D lived)."""


@functools.cache
def kinds() -> dict[str, type[LayerSpec]]:
    """Every kind, by its `type` name, in name order."""
    found: dict[str, type[LayerSpec]] = {}
    for value in classes_in(package, LayerSpec, NOT_KINDS):
        if "type" in value.model_fields:
            name = value.type_name()
            if name in found:
                raise AssertionError(f"layer type {name!r} is defined twice: {found[name]} and {value}")
            found[name] = value
    return dict(sorted(found.items()))


def names() -> list[str]:
    return list(kinds())


def lookup(name: str) -> type[LayerSpec] | None:
    return kinds().get(name)


def is_composite(name: str) -> bool:
    kind = lookup(name)
    return kind is not None and issubclass(kind, Composite)


def custom_objects() -> set[str]:
    """Registered names (`package>Class`) of the custom Keras layers the kinds build."""
    return {obj for kind in kinds().values() for obj in kind.custom_objects}


def layer_union(fallback: type | None = None, fallback_tag: str = "block",
                deferred: tuple[type, Callable[[dict], bool]] | None = None) -> Any:
    """The annotated union of all kinds, told apart by `type`; a `type` no kind has goes to `fallback`
    (a block call, resolved later) when one is given; a mapping that `deferred`'s test takes (a computed
    layer: its values wait for the graph) goes to `deferred`'s class."""
    members = [Annotated[kind, Tag(name)] for name, kind in kinds().items()]
    if fallback is not None:
        members.append(Annotated[fallback, Tag(fallback_tag)])
    if deferred is not None:
        members.append(Annotated[deferred[0], Tag(DEFERRED)])
    return Annotated[Union[tuple(members)], Discriminator(_tagger(fallback_tag if fallback else None,  # noqa: UP007
                                                                   deferred[1] if deferred else None))]


DEFERRED = "computed"


def _tagger(fallback: str | None, deferred: Callable[[dict], bool] | None = None) -> Callable[[Any], str | None]:
    known = kinds()

    def tag(value: Any) -> str | None:
        if deferred is not None and isinstance(value, dict) and deferred(value):
            return DEFERRED
        if deferred is not None and getattr(type(value), "deferred", False):
            return DEFERRED
        kind = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
        if isinstance(kind, str) and kind in known:
            return kind
        if fallback and isinstance(kind, str):
            return fallback
        return None

    return tag
