"""What the tool refuses to read, before anything reads it: files that could run code, and run-directory
files that lead out of their run directory.

**Models.** A model is a `.keras` file (a zip of config.json, metadata.json and model.weights.h5). Before
Keras sees it, `check_keras_file` reads its config.json and refuses, naming the file and where in the config:

- a `Lambda` layer or any serialized Python function (`__lambda__`): Python code;
- any object whose `module` is outside Keras' model-building namespaces (layers, initializers, optimizers,
  losses, metrics, activations, regularizers, constraints, dtype policies, models; on PyTorch, Keras' own
  optimizer classes for it) and this tool's own layers -- e.g. `{"module": "os", "class_name": "system"}` or `keras.config` / `keras.utils` functions;
- a registered custom object other than this tool's own (the `custom_objects` of the layer kinds in
  `cnn_cli.layers`: `cnn>MinPooling2D`, `cnn>StochasticDepth`, ...), and `TFSMLayer` (which
  loads a TensorFlow SavedModel from a path);
- legacy HDF5 (`.h5`) models, which Keras' safe mode does not fully cover: convert one in a trusted Python
  session (`keras.saving.load_model("m.h5").save("model.keras")`).

Then Keras loads it with `safe_mode=True` (never `enable_unsafe_deserialization`).

**Paths.** A run directory's own files (config.yaml, run.json, labels.json, model.keras, best.keras,
metrics.json, evaluation.json, confusion_matrix.png) are found by their fixed names inside the run
directory, and must be there: a symlink whose target lies outside the run directory is refused
(`cnn_cli.rundir.layout.run_file`).
Data paths -- `data:` paths in a config, `--data PATH`, and run.json's `data_path` (the `--data` the user gave
to `cnn train`) -- are the user's own and may point anywhere; they are only ever read as data, by readers
that never unpickle or execute anything.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

from cnn_cli.errors import CnnError, short_reason
from cnn_cli.layers.registry import CUSTOM_MODULES, custom_objects
from cnn_cli.number_format import human_bytes, memory_bytes

HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
MAX_CONFIG_BYTES = 64 * 1024 * 1024

ALLOWED_MODULES = tuple(
    prefix
    for name in ("layers", "initializers", "regularizers", "constraints", "optimizers", "losses", "metrics",
                 "activations", "models", "dtype_policies")
    for prefix in (f"keras.{name}", f"keras.src.{name}")
) + CUSTOM_MODULES + ("keras.src.backend.torch.optimizers",)  # Keras' optimizers as saved on PyTorch
# `module: keras` is how Keras writes its top-level classes; only these may be named from it.
KERAS_TOP_LEVEL = {"Sequential", "Functional", "Model", "DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy",
                   "QuantizedFloat8DTypePolicy", "DTypePolicyMap", "Layer", "Variable", "InputSpec"}
FUNCTION_MODULES = tuple(p for p in ALLOWED_MODULES if p.rsplit(".", 1)[-1] in ("activations", "losses", "metrics"))
REFUSED_CLASSES = {"Lambda": "a Lambda layer (Python code)", "__lambda__": "a serialized Python function",
                   "TFSMLayer": "a TFSMLayer (loads a TensorFlow SavedModel from a path)"}
OWN_REGISTERED = custom_objects() | {"cnn>OneCycle", "cnn>WeightedBinaryCrossentropy"}  # every kind's
# `custom_objects`, e.g. cnn>MinPooling2D; the one-cycle learning-rate schedule (cnn_cli/layers/custom/one_cycle.py)
# a model's optimizer may hold; the multi-label loss with positive weights (custom/weighted_bce.py) it compiled with


class UnsafeFileError(CnnError):
    """A file that is refused because reading it could run code or leave where it should stay."""


def check_keras_file(path: str | Path) -> None:
    """Refuses a model file that is not a plain `.keras` archive of Keras layers (see the module doc)."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            head = f.read(8)
        size = path.stat().st_size
    except OSError as exc:
        raise CnnError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    if size == 0:
        raise CnnError(f"{path}: cannot be loaded as a Keras model: empty file (0 bytes)")
    if head == HDF5_MAGIC:
        raise UnsafeFileError(
            f"{path}: a legacy HDF5 (.h5) model, which cnn does not load (Keras' safe mode does not cover it); "
            "convert it in a Python session you trust: keras.saving.load_model('model.h5').save('model.keras')"
        )
    if not zipfile.is_zipfile(path):
        raise CnnError(f"{path}: cannot be loaded as a Keras model: not a .keras file (not a zip archive, or a truncated one)")
    try:
        with zipfile.ZipFile(path) as archive:
            names = set(archive.namelist())
            if "config.json" not in names:
                raise CnnError(f"{path}: cannot be loaded as a Keras model: not a .keras file (no config.json inside)")
            check_declared_sizes(path, archive)
            if archive.getinfo("config.json").file_size > MAX_CONFIG_BYTES:
                raise CnnError(f"{path}: config.json is over {MAX_CONFIG_BYTES // 2**20} MB; refused")
            text = archive.read("config.json")
    except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
        raise CnnError(f"{path}: cannot be loaded as a Keras model: a damaged .keras file ({type(exc).__name__}: {short_reason(exc)})") from None
    try:
        config = json.loads(text)
        problem = find_unsafe(config)
    except RecursionError:
        raise CnnError(f"{path}: config.json: nested too deeply; not a model Keras wrote") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise CnnError(f"{path}: cannot be loaded as a Keras model: its config.json is not valid JSON ({short_reason(exc)})") from None
    if problem:
        where, what = problem
        raise UnsafeFileError(f"{path}: refused: {where} is {what}; cnn loads only plain Keras layers, in safe mode")


MAX_RATIO = 1000  # uncompressed / compressed size of a member; Keras' weights shrink by a few times at most


def check_declared_sizes(path: Path, archive: zipfile.ZipFile) -> None:
    """Refuses an archive whose members declare more bytes than this machine's memory in all, or a member of
    over 100 MB that claims to shrink more than MAX_RATIO times (a zip bomb), before any member is read."""

    infos = archive.infolist()
    total, memory = sum(info.file_size for info in infos), memory_bytes()
    if memory is not None and total > memory:
        largest = max(infos, key=lambda info: info.file_size)
        raise CnnError(f"{path}: {largest.filename}: declares {human_bytes(largest.file_size)} "
                       f"({human_bytes(total)} in all), more than this machine's memory ({human_bytes(memory)}); "
                       "refused (a damaged file or a zip bomb)")
    for info in infos:
        if info.file_size > 100 * 10**6 and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise CnnError(f"{path}: {info.filename}: declares {human_bytes(info.file_size)} packed into "
                           f"{human_bytes(info.compress_size)}; refused (a zip bomb?)")


def optimizer_backend(path: str | Path) -> str | None:
    """The backend whose own optimizer class a checked `.keras` file's compile settings name ('torch' for a
    model trained on PyTorch), or None for Keras' portable optimizer classes."""
    try:
        with zipfile.ZipFile(path) as archive:
            optimizer = json.loads(archive.read("config.json")).get("compile_config", {}).get("optimizer", {})
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, AttributeError):
        return None
    module = optimizer.get("module") if isinstance(optimizer, dict) else None
    parts = module.split(".") if isinstance(module, str) else []
    return parts[3] if parts[:3] == ["keras", "src", "backend"] and len(parts) > 3 else None


def find_unsafe(node: Any, where: str = "config.json") -> tuple[str, str] | None:
    """The first object of a Keras config that may not be deserialized: (its place, what it is)."""
    if isinstance(node, list):
        for i, item in enumerate(node):
            found = find_unsafe(item, f"{where}[{i}]")
            if found:
                return found
        return None
    if not isinstance(node, dict):
        return None
    if "class_name" in node:
        found = _unsafe_object(node, where)
        if found:
            return found
    for key, value in node.items():
        found = find_unsafe(value, f"{where}.{key}")
        if found:
            return found
    return None


def _unsafe_object(node: dict, where: str) -> tuple[str, str] | None:
    class_name, module, registered = node.get("class_name"), node.get("module"), node.get("registered_name")
    named = f"{module}.{class_name}" if module else str(class_name)
    if not isinstance(class_name, str) or not isinstance(module, (str, type(None))):
        return where, "an object with a malformed class_name or module"
    if class_name in REFUSED_CLASSES:
        return where, REFUSED_CLASSES[class_name]
    if module is not None:
        if class_name == "function":
            own = module == "builtins" and node.get("config") in OWN_REGISTERED  # how Keras writes a registered one
            if not own and not (module.startswith(FUNCTION_MODULES) and _within(module)):
                return where, f"the function {module}.{node.get('config')} (outside Keras' activations, losses and metrics)"
        elif module == "keras":
            if class_name not in KERAS_TOP_LEVEL:
                return where, f"{named}, not a Keras model part"
        elif not _within(module):
            return where, f"{named}, from a module outside Keras' layers"
    if registered is not None and registered not in OWN_REGISTERED and registered != class_name:
        if not (class_name == "function" and registered == node.get("config")):
            return where, f"a custom object {registered!r} this tool does not know"
    return None  # module None: Keras' own plain values (__keras_tensor__, __tuple__, __numpy__, ...)


def _within(module: str) -> bool:
    """`module` equals an allowed prefix or lies below it (so `keras.layersX` does not pass as `keras.layers`)."""
    return any(module == p or module.startswith(p + ".") for p in ALLOWED_MODULES)
