"""The registry of tasks: what a model predicts for an image, and everything that follows from it -- the head's
activation, the loss and metrics, how targets are encoded, evaluation's figures, the report's sections and
what `cnn predict` says. Every module of `cnn_cli.tasks` is found with pkgutil, and every `Task` subclass with
a `NAME` in it is a task, so adding a task is adding one file (`register` adds one from elsewhere: tests).

Callers ask `tasks.of(config)` (the config's task; classification, the only one today, where it names none)
or `tasks.lookup(name)`. Importing it imports no Keras: a task imports Keras inside the methods that need it.
"""

from __future__ import annotations

import functools

import cnn_cli.tasks as package
from cnn_cli.module_classes import classes_in
from cnn_cli.tasks.base import Task

CLASSIFICATION = "classification"
DEFAULT = CLASSIFICATION
"""The task of a config that names none."""
NOT_TASKS = {"base"}

_registered: dict[str, type[Task]] = {}
_instances: dict[str, Task] = {}


@functools.cache
def _found() -> dict[str, type[Task]]:
    found: dict[str, type[Task]] = {}
    for value in classes_in(package, Task, NOT_TASKS):
        if getattr(value, "NAME", None):
            if value.NAME in found:
                raise AssertionError(f"task {value.NAME!r} is defined twice: {found[value.NAME]} and {value}")
            found[value.NAME] = value
    return found


def kinds() -> dict[str, type[Task]]:
    """Every task class, by name, in name order: the package's own, then those registered."""
    return dict(sorted({**_found(), **_registered}.items()))


def names() -> list[str]:
    return list(kinds())


def register(cls: type[Task]) -> type[Task]:
    """Registers a `Task` class from outside the package (a class decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, Task)):
        raise TypeError(f"{cls!r} is not a Task class")
    _registered[cls.NAME] = cls
    _instances.pop(cls.NAME, None)
    return cls


def unregister(name: str) -> None:
    """Forgets a task that `register` added."""
    _registered.pop(name, None)
    _instances.pop(name, None)


def lookup(name: str) -> Task:
    """The task named `name` (one instance per process); a KeyError naming the known ones for another name."""
    known = kinds()
    if name not in known:
        raise KeyError(f"unknown task {name!r}; expected one of {', '.join(known)}")
    if name not in _instances:
        _instances[name] = known[name]()
    return _instances[name]


def of(config) -> Task:
    """The task of a run's `config` (its `task` where it has one; classification otherwise)."""
    return lookup(getattr(config, "task", None) or DEFAULT)
