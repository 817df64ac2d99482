"""The compute backend behind Keras 3 -- TensorFlow, JAX or PyTorch -- and the only package that imports them.

Which one runs: `--backend NAME` (`select`, before Keras is first imported), else `KERAS_BACKEND`, else
Keras' own `keras.json`, else TensorFlow. `current()` is that backend: an instance of its `Backend` class
(`base.py`: what every backend offers, and the optional capabilities it declares, asked with
`current().supports("gradcam")`), one per module (`tensorflow.py`, `jax.py`, `torch.py`), registered by name
(`register`, `lookup`); `start()` starts it quietly and checks that it is installed (one line saying how to
get one when it is not). Importing this package, or looking a backend up, imports no framework.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys

from cnn_cli.backends.base import CAPABILITIES, Backend, Unsupported  # noqa: F401 (the interface)
from cnn_cli.errors import CnnError

ENV = "KERAS_BACKEND"
NAMES = ("tensorflow", "jax", "torch")
LABELS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
DEFAULT = "tensorflow"

_classes: dict[str, type[Backend]] = {}
_instances: dict[str, Backend] = {}


def register(cls: type[Backend]) -> type[Backend]:
    """Registers a `Backend` class under its `NAME` (a class decorator); the tool's own are found in this
    package's module of that name (`NAMES`) when first looked up."""
    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise TypeError(f"{cls!r} is not a Backend class")
    _classes[cls.NAME] = cls
    _instances.pop(cls.NAME, None)
    return cls


def unregister(name: str) -> None:
    """Forgets a registered backend that is not one of the tool's own (for tests)."""
    if name not in NAMES:
        _classes.pop(name, None)
        _instances.pop(name, None)


def names() -> tuple[str, ...]:
    """The backends that can be chosen: the tool's own, then any registered besides."""
    return NAMES + tuple(n for n in _classes if n not in NAMES)


def lookup(wanted: str) -> Backend | None:
    """The backend named `wanted` (one instance per process), None when there is none; imports no framework."""
    if wanted not in _classes and wanted in NAMES:
        importlib.import_module(f"cnn_cli.backends.{wanted}")
    if wanted not in _classes:
        return None
    if wanted not in _instances:
        _instances[wanted] = _classes[wanted]()
    return _instances[wanted]


def installed(package: str) -> bool:
    """Whether `package` can be imported (found on the path), without importing it."""
    try:
        return importlib.util.find_spec(package) is not None
    except (ImportError, ValueError):
        return False


def _running() -> str | None:
    """The backend Keras already runs on in this process, or None before Keras is imported."""
    keras = sys.modules.get("keras")
    if keras is None:
        return None
    try:
        return str(keras.backend.backend())
    except AttributeError:  # Keras is still being imported
        return None


def _from_keras_json() -> str | None:
    home = os.environ.get("KERAS_HOME") or os.path.join(os.path.expanduser("~"), ".keras")
    try:
        with open(os.path.join(home, "keras.json"), encoding="utf-8") as handle:
            value = json.load(handle).get("backend")
    except (OSError, ValueError, AttributeError):
        return None
    return value if value in NAMES else None


def name() -> str:
    """The backend's name for this process (see the module's docstring), without importing anything."""
    return _running() or os.environ.get(ENV) or _from_keras_json() or DEFAULT


def select(wanted: str) -> None:
    """Makes `wanted` the backend (`--backend`): sets KERAS_BACKEND, which Keras reads when first imported.
    Refused in one line when Keras already runs on another backend in this process."""
    if wanted not in names():
        raise CnnError(f"--backend {wanted}: expected one of {', '.join(names())}")
    running = _running()
    if running is not None and running != wanted:
        raise CnnError(f"--backend {wanted}: Keras already runs on {running} in this process")
    os.environ[ENV] = wanted


def current() -> Backend:
    """This process's backend (the `Backend` of `cnn_cli.backends.tensorflow`, `.jax` or `.torch`); imports no
    framework."""
    chosen = name()
    found = lookup(chosen)
    if found is None:
        raise CnnError(f"{ENV}={chosen}: expected one of {', '.join(names())} (or pass --backend)")
    return found


def supports(capability: str) -> bool:
    """Whether this process's backend offers `capability` (one of `CAPABILITIES`)."""
    return current().supports(capability)


def missing_message(chosen: str) -> str:
    """The one line for a backend that is not installed: how to get it, or which installed one to choose."""
    label = LABELS.get(chosen) or lookup(chosen).LABEL
    others = [n for n in NAMES if n != chosen and installed(n)]
    if not others:
        return ("Keras needs a backend and none is installed: pip install 'cnn-cli[tensorflow]' "
                "(or 'cnn-cli[jax]', or 'cnn-cli[torch]')")
    how = " or ".join(f"--backend {n}" for n in others)
    return f"the {label} backend is not installed: pip install 'cnn-cli[{chosen}]', or use {how}"


def require() -> Backend:
    """This process's backend, refused in one line when its framework is not installed (imports none:
    for commands whose Keras runs in child processes, which inherit KERAS_BACKEND)."""
    backend = current()
    if _running() is None and not installed(backend.PACKAGE):
        raise CnnError(missing_message(backend.NAME))
    return backend


def start() -> Backend:
    """Starts this process's backend (quietly, before Keras imports it) and returns it."""
    backend = require()
    backend.start()
    return backend


def keras_version() -> str:
    import keras

    return keras.__version__
