"""How each registry finds its members without a list: the classes of a kind defined in a package's modules."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from types import ModuleType


def classes_in(package: ModuleType, base: type, skip: set[str] | frozenset[str] = frozenset()) -> Iterator[type]:
    """The subclasses of `base` defined in each module of `package` (its own modules: not those it imports,
    nor subpackages, modules named `_...` or named in `skip`), in module order."""
    for info in pkgutil.iter_modules(package.__path__):
        if info.name in skip or info.name.startswith("_") or info.ispkg:
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, base) and value.__module__ == module.__name__:
                yield value
