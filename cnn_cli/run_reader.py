"""Reading a run directory back (what `cnn train` wrote): its config, `run.json`, class map and model.

Every missing or unreadable piece is a one-line `CnnError` that names the file. The model is loaded with
`keras.saving.load_model(path, safe_mode=True)` only: a model file can never run arbitrary code.
Nothing here imports TensorFlow until `Run.load_model` is called.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_cli.errors import CnnError

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
        if name not in self._models:
            self._models[name] = load_model(self.path / name)
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
    config, source = config_for(str(path), None)
    record = read_json_file(path / RUN)
    if not isinstance(record, dict):
        raise CnnError(f"{path / RUN}: expected a JSON object")
    labels = read_json_file(path / LABELS)
    try:
        class_map = ClassMap.from_json(labels["classes"])
    except (TypeError, KeyError, ValueError) as exc:
        raise CnnError(f"{path / LABELS}: expected {{\"classes\": [{{\"index\", \"id\", \"name\"}}, ...]}} "
                       f"({type(exc).__name__}: {exc})") from None
    if len(class_map) < 2:
        raise CnnError(f"{path / LABELS}: expected at least 2 classes, found {len(class_map)}")
    if config.model.input_shape is None:
        raise CnnError(f"{path / CONFIG}: model.input_shape is missing (a run's config has it filled in)")
    if config.model.num_classes is not None and config.model.num_classes != len(class_map):
        raise CnnError(f"{path / LABELS}: {len(class_map)} classes, but {CONFIG} has model.num_classes "
                       f"{config.model.num_classes}")
    return Run(path=path, config=config, config_source=source, record=record, class_map=class_map)


def read_json_file(path: Path) -> Any:
    if not path.is_file():
        raise CnnError(f"{path}: missing from the run directory" if not path.exists() else f"{path}: not a file")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise CnnError(f"{path}: cannot be read as JSON ({_first_line(exc)})") from None


def load_model(path: str | Path):
    """`keras.saving.load_model(path, safe_mode=True)` with one-line errors naming the file."""
    path = Path(path)
    if not path.is_file():
        where = path.parent
        status = _status_of(where)
        hint = f" (the run's status is {status!r})" if status and status != "complete" else ""
        raise CnnError(f"{path}: missing from the run directory{hint}" if not path.exists() else f"{path}: not a file")
    from cnn_cli.tf_runtime import import_tensorflow

    import_tensorflow()
    import keras

    import cnn_cli.model.min_pooling  # noqa: F401  (registers MinPooling2D for deserialization)

    try:
        return keras.saving.load_model(path, safe_mode=True)
    except Exception as exc:  # a broken or foreign file: zip, JSON, HDF5 or Keras errors of many kinds
        raise CnnError(f"{path}: cannot be loaded as a Keras model ({type(exc).__name__}: {_first_line(exc)})") from None


def _check_model(model, run: Run, path: Path) -> None:
    shape = tuple(model.input_shape[1:]) if not isinstance(model.input_shape, list) else None
    if shape is None or len(shape) != 3:
        raise CnnError(f"{path}: expected a model with one image input (H, W, C), found input shape {model.input_shape}")
    if tuple(shape) != run.input_shape:
        raise CnnError(f"{path}: input shape {list(shape)} differs from {CONFIG}'s model.input_shape {list(run.input_shape)}")
    outputs = model.output_shape
    if isinstance(outputs, list) or outputs[-1] != run.num_classes:
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
