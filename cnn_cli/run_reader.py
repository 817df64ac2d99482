"""Reading a run directory back (what `cnn train` wrote): its config, `run.json`, class map and model.

Every missing or unreadable piece is a one-line `CnnError` that names the file (and the key, where one is
wrong). The run's files are read by their fixed names inside the run directory; a symlink among them that
leads outside is refused (`cnn_cli.safety.run_file`). The model file is checked first
(`cnn_cli.safety.check_keras_file`: no Lambda layers, no objects from outside Keras' layers, no legacy .h5),
then loaded with `keras.saving.load_model(path, safe_mode=True)` only. A run whose status is `diverged` has no
usable model: reading it for its model is a `DivergedError` (exit code 3).
Nothing here imports TensorFlow until `Run.load_model` is called.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_cli.errors import CnnError, DivergedError, show_value
from cnn_cli.safety import check_keras_file, run_file

if TYPE_CHECKING:
    from cnn_cli.config import Config
    from cnn_cli.data.class_map import ClassMap

CONFIG = "config.yaml"
RUN = "run.json"
LABELS = "labels.json"
MODEL = "model.keras"
BEST = "best.keras"
METRICS = "metrics.json"
HISTORY = "history.csv"


@dataclass
class Run:
    """A run directory as read back: config (with input shape and classes filled in), record, class map."""

    path: Path
    config: Config
    config_source: str
    record: dict[str, Any]
    class_map: ClassMap
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def status(self) -> str | None:
        return self.record.get("status")

    @property
    def data_path(self) -> str | None:
        return self.record.get("data_path")

    @property
    def subset(self) -> int | None:
        return self.record.get("subset")

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.config.model.input_shape)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_map)

    def load_model(self, name: str = MODEL):
        """The Keras model saved as `name` (model.keras or best.keras), loaded in safe mode, once."""
        if self.status == "diverged":
            raise DivergedError(f"{self.path / RUN}: the run diverged (its loss became NaN or infinite), so it has no "
                                "usable model; train again with other settings (e.g. a lower learning rate)")
        if name not in self._models:
            self._models[name] = load_model(run_file(self.path, name))
            _check_model(self._models[name], self, self.path / name)
        return self._models[name]


def read_run(run_dir: str | Path) -> Run:
    """Reads config.yaml, run.json and labels.json of a run directory (the model is loaded on demand)."""
    from cnn_cli.data.class_map import ClassMap
    from cnn_cli.resolve import config_for

    path = Path(run_dir)
    if not path.exists():
        raise CnnError(f"{run_dir}: no such run directory")
    if not path.is_dir():
        raise CnnError(f"{run_dir}: not a directory (expected a run directory written by cnn train)")
    for name in (CONFIG, RUN, LABELS):
        run_file(path, name)
    config, source = config_for(str(path), None)
    record = read_json_file(path / RUN)
    if not isinstance(record, dict):
        raise CnnError(f"{path / RUN}: expected a JSON object, found {type(record).__name__}")
    _check_record(record, path / RUN)
    labels = read_json_file(path / LABELS)
    class_map = _class_map(labels, path / LABELS, ClassMap)
    if config.model.input_shape is None:
        raise CnnError(f"{path / CONFIG}: model.input_shape is missing (a run's config has it filled in)")
    if config.model.num_classes is not None and config.model.num_classes != len(class_map):
        raise CnnError(f"{path / LABELS}: {len(class_map)} classes, but {CONFIG} has model.num_classes "
                       f"{config.model.num_classes}")
    return Run(path=path, config=config, config_source=source, record=record, class_map=class_map)


def _check_record(record: dict, path: Path) -> None:
    """run.json's keys that are used: data_path (a path or null), subset (a positive integer or null), status."""
    data_path, subset, status = record.get("data_path"), record.get("subset"), record.get("status")
    if data_path is not None and (not isinstance(data_path, str) or not data_path.strip() or "\0" in data_path):
        raise CnnError(f"{path}: data_path: expected a path (a string) or null, received {show_value(data_path)}")
    if subset is not None and (isinstance(subset, bool) or not isinstance(subset, int) or subset < 1):
        raise CnnError(f"{path}: subset: expected a positive integer or null, received {show_value(subset)}")
    if status is not None and not isinstance(status, str):
        raise CnnError(f"{path}: status: expected a string, received {show_value(status)}")


def _class_map(labels: Any, path: Path, cls):
    """labels.json's class map: indices 0..K-1 in order, ids integers or strings, all different, K >= 2."""
    shape = '{"classes": [{"index": 0, "id": ..., "name": ...}, ...]}'
    items = labels.get("classes") if isinstance(labels, dict) else None
    if not isinstance(items, list):
        raise CnnError(f"{path}: classes: expected {shape}")
    seen: dict = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not {"index", "id", "name"} <= set(item):
            raise CnnError(f"{path}: classes[{i}]: expected an object with index, id and name, received "
                           f"{show_value(item)}")
        index, ident, name = item["index"], item["id"], item["name"]
        if isinstance(index, bool) or index != i or not isinstance(index, int):
            raise CnnError(f"{path}: classes[{i}].index: expected {i} (indices run 0..K-1 in order), received "
                           f"{show_value(index)}")
        if isinstance(ident, bool) or not isinstance(ident, (int, str)):
            raise CnnError(f"{path}: classes[{i}].id: expected an integer or a string, received {show_value(ident)}")
        if not isinstance(name, (str, int)) or isinstance(name, bool):
            raise CnnError(f"{path}: classes[{i}].name: expected a string, received {show_value(name)}")
        if str(ident) in seen:
            raise CnnError(f"{path}: classes[{i}].id: {ident!r} is also the id of classes[{seen[str(ident)]}]")
        seen[str(ident)] = i
    if len(items) < 2:
        raise CnnError(f"{path}: classes: expected at least 2 classes, found {len(items)}")
    return cls.from_json(items)


def read_json_file(path: Path) -> Any:
    if not path.is_file():
        raise CnnError(f"{path}: missing from the run directory" if not path.exists() else f"{path}: not a file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CnnError(f"{path}: cannot be read as JSON ({_first_line(exc)})") from None


def load_model(path: str | Path):
    """`keras.saving.load_model(path, safe_mode=True)` with one-line errors naming the file, after
    `check_keras_file` has refused anything that could run code."""
    path = Path(path)
    if not path.is_file():
        where = path.parent
        status = _status_of(where)
        hint = f" (the run's status is {status!r})" if status and status != "complete" else ""
        raise CnnError(f"{path}: missing from the run directory{hint}" if not path.exists() else f"{path}: not a file")
    check_keras_file(path)
    from cnn_cli.tf_runtime import import_tensorflow

    import_tensorflow()
    import keras

    import cnn_cli.layers.custom  # noqa: F401  (registers the tool's own layers for deserialization)

    try:
        with warnings.catch_warnings():  # Keras' warnings about a model it cannot load would add lines
            warnings.simplefilter("ignore")
            return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # a broken or foreign file: zip, JSON, HDF5 or Keras errors of many kinds
        raise CnnError(f"{path}: cannot be loaded as a Keras model ({type(exc).__name__}: {_first_line(exc)})") from None


def _check_model(model, run: Run, path: Path) -> None:
    try:
        inputs, outputs = model.input_shape, model.output_shape
    except (AttributeError, ValueError, RuntimeError, TypeError) as exc:
        raise CnnError(f"{path}: not a model with one image input and one output ({type(exc).__name__})") from None
    shape = tuple(inputs[1:]) if isinstance(inputs, tuple) else None
    if shape is None or len(shape) != 3:
        raise CnnError(f"{path}: expected a model with one image input (H, W, C), found input shape {inputs}")
    if tuple(shape) != run.input_shape:
        raise CnnError(f"{path}: input shape {list(shape)} differs from {CONFIG}'s model.input_shape {list(run.input_shape)}")
    if not isinstance(outputs, tuple) or len(outputs) != 2 or outputs[-1] != run.num_classes:
        raise CnnError(f"{path}: output shape {outputs} does not give one score per class ({run.num_classes} classes "
                       f"in {LABELS})")


def _status_of(run_dir: Path) -> str | None:
    try:
        data = json.loads((run_dir / RUN).read_text(encoding="utf-8"))
        return data.get("status") if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    line = text[0] if text else type(exc).__name__
    return line if len(line) <= 200 else line[:197] + "..."
