"""The compute backend behind Keras 3 -- TensorFlow, JAX or PyTorch -- and the only package that imports them.

Which one runs: `--backend NAME` (`select`, before Keras is first imported), else `KERAS_BACKEND`, else
Keras' own `keras.json`, else TensorFlow. `current()` is that backend's module here (`tensorflow.py`,
`jax.py`, `torch.py`); `start()` starts it quietly and checks that it is installed (one line saying how to
get one when it is not).

Each backend module offers the same interface:

- `NAME`, `LABEL`, `start()` (the framework, started quietly, GPU memory taken as needed), `versions()`;
- `seed_everything(seed, deterministic)`, `gpu_precision()` / `cpu_precision()` (what `precision: auto`
  picks, decided by measurement: README "Precision");
- `devices_used(strategy)` (a `device.Devices`, for the start line and metrics.json), `check_devices`;
- `steps_per_execution(wanted)` (PyTorch runs one step per call);
- `make_strategy(settings, slurm=)`, `default_strategy()`, `fit_works_under`, `lost_worker_errors`,
  `custom_fit` / `custom_evaluate` (tf.distribute exists on TensorFlow only; the others refuse any strategy
  but `auto` in one line);
- `tensorboard_problem()`: why TensorBoard logging cannot run here, or None.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import sys
from types import ModuleType

from cnn_cli.errors import CnnError

ENV = "KERAS_BACKEND"
NAMES = ("tensorflow", "jax", "torch")
LABELS = {"tensorflow": "TensorFlow", "jax": "JAX", "torch": "PyTorch"}
DEFAULT = "tensorflow"


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
    if wanted not in NAMES:
        raise CnnError(f"--backend {wanted}: expected one of {', '.join(NAMES)}")
    running = _running()
    if running is not None and running != wanted:
        raise CnnError(f"--backend {wanted}: Keras already runs on {running} in this process")
    os.environ[ENV] = wanted


def current() -> ModuleType:
    """This process's backend module (`cnn_cli.backends.tensorflow`, `.jax` or `.torch`); imports no framework."""
    chosen = name()
    if chosen not in NAMES:
        raise CnnError(f"{ENV}={chosen}: expected one of {', '.join(NAMES)} (or pass --backend)")
    return importlib.import_module(f"cnn_cli.backends.{chosen}")


def missing_message(chosen: str) -> str:
    """The one line for a backend that is not installed: how to get it, or which installed one to choose."""
    label = LABELS[chosen]
    others = [n for n in NAMES if n != chosen and installed(n)]
    if not others:
        return ("Keras needs a backend and none is installed: pip install 'cnn-cli[tensorflow]' "
                "(or 'cnn-cli[jax]', or 'cnn-cli[torch]')")
    how = " or ".join(f"--backend {n}" for n in others)
    return f"the {label} backend is not installed: pip install 'cnn-cli[{chosen}]', or use {how}"


def require() -> ModuleType:
    """This process's backend module, refused in one line when its framework is not installed (imports none:
    for commands whose Keras runs in child processes, which inherit KERAS_BACKEND)."""
    backend = current()
    if _running() is None and not installed(backend.PACKAGE):
        raise CnnError(missing_message(backend.NAME))
    return backend


def start() -> ModuleType:
    """Starts this process's backend (quietly, before Keras imports it) and returns its module here."""
    backend = require()
    backend.start()
    return backend


def keras_version() -> str:
    import keras

    return keras.__version__
