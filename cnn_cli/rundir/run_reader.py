"""Reading a run directory back (what `cnn train` wrote): its config, `run.json`, class map and model.

Every missing or unreadable piece is a one-line `CnnError` that names the file (and the key, where one is
wrong). The run's files are read by their fixed names inside the run directory; a symlink among them that
leads outside is refused (`cnn_cli.rundir.layout.run_file`); run.json and labels.json are read through
their schemas (`cnn_cli.rundir.records`). The model file is checked first
(`cnn_cli.model.file_safety.check_keras_file`: no Lambda layers, no objects from outside Keras' layers, no legacy .h5),
then loaded with `keras.saving.load_model(path, safe_mode=True)` only. A run whose status is `diverged` has no
usable model: reading it for its model is a `DivergedError` (exit code 3).
Nothing here imports TensorFlow until `Run.load_model` is called.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from cnn_cli import tasks
from cnn_cli.backends import name as backend_name
from cnn_cli.backends import start as start_backend
from cnn_cli.config import config_from_dict
from cnn_cli.config.yaml_io import read_yaml
from cnn_cli.errors import CnnError, DivergedError
from cnn_cli.model.file_safety import check_keras_file, optimizer_backend
from cnn_cli.rundir.layout import CONFIG, HISTORY, LABELS, METRICS, MODEL, RUN, run_file
from cnn_cli.rundir.records import LabelsJson, RunJson, check_optional, first_line, input_scale, read_record
from cnn_cli.rundir.run_dir import RunDir
from cnn_cli.tasks.base import NO_STATE, TargetState

INPUT_SCALING = "input_scaling"  # the layer a format-2 model starts with, unless its config scales itself

if TYPE_CHECKING:
    from cnn_cli.config import Config
    from cnn_cli.data.class_map import ClassMap

@dataclass
class Run:
    """A run directory as read back: config (with input shape and classes filled in), record, class map."""

    path: Path
    config: Config
    config_source: str
    record: RunJson
    class_map: ClassMap
    targets: TargetState = NO_STATE  # what the run keeps of its targets (labels.json): thresholds, mean and std
    _models: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def task(self):
        """The run's task (`cnn_cli.tasks`): its config's, classification for a run that names none."""
        return tasks.of(self.config)

    @property
    def dir(self) -> RunDir:
        """The run directory's files (`RunDir`)."""
        return RunDir(self.path)

    @property
    def status(self) -> str | None:
        return self.record.status

    @property
    def data_path(self) -> str | None:
        return self.record.data_path

    @property
    def subset(self) -> int | None:
        return self.record.subset

    @property
    def format(self) -> int:
        """run.json's format: 1 for a run written before pixel scaling moved into the model, else 2."""
        return self.record.format

    def model_inputs(self, pixels):
        """uint8 (or 0..255 float) pixels as this run's model takes them: float32, scaled to [0, 1] for a
        format-1 model, as they are (0..255) from format 2 on (the model scales them itself)."""
        import numpy as np

        x = np.asarray(pixels, dtype=np.float32)
        scale = input_scale(self.record)
        return x * np.float32(scale) if scale != 1.0 else x

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.config.model.input_shape)  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_map)

    @property
    def resize(self) -> str:
        """How an image file meets the input shape: the run's `data.resize` (stretch when it has no data)."""
        data = self.config.data
        return data.resize if data is not None else "stretch"

    def load_model(self, name: str = MODEL, float32: bool = True):
        """The Keras model saved as `name` (model.keras or best.keras), loaded in safe mode, once: the one model
        every reader computes with (predict, evaluate, report, inspect, export, `load_run`). In float32 unless
        `float32=False` asks for the model as saved (a mixed-precision run saved mixed_bfloat16 layers)."""
        if self.status == "diverged":
            raise DivergedError(f"{self.path / RUN}: the run diverged (its loss became NaN or infinite), so it has no "
                                "usable model; train again with other settings (e.g. a lower learning rate)")
        if name not in self._models:
            self._models[name] = load_model(run_file(self.path, name))
            _check_model(self._models[name], self, self.path / name)
        if not float32:
            return self._models[name]
        key = f"{name} (float32)"
        if key not in self._models:
            self._models[key] = float32_model(self._models[name])
        return self._models[key]


def read_run(run_dir: str | Path) -> Run:
    """Reads config.yaml, run.json and labels.json of a run directory (the model is loaded on demand)."""
    from cnn_cli.data.class_map import ClassMap

    path = Path(run_dir)
    if not path.exists():
        raise CnnError(f"{run_dir}: no such run directory")
    if not path.is_dir():
        raise CnnError(f"{run_dir}: not a directory (expected a run directory written by cnn train)")
    for name in (CONFIG, RUN, LABELS):
        run_file(path, name)
    config, source = read_run_config(path)
    record = read_record(path / RUN, RunJson)
    labels = read_record(path / LABELS, LabelsJson)
    check_optional(path, (METRICS, HISTORY))
    class_map = ClassMap.from_json([entry.model_dump() for entry in labels.classes])
    if config.model.input_shape is None:
        raise CnnError(f"{path / CONFIG}: model.input_shape is missing (a run's config has it filled in)")
    if labels.task is not None and labels.task != config.task:
        raise CnnError(f"{path / LABELS}: task {labels.task!r}, but {CONFIG} has task {config.task!r}")
    if config.model.num_classes is not None and config.model.num_classes != len(class_map):
        raise CnnError(f"{path / LABELS}: {len(class_map)} classes, but {CONFIG} has model.num_classes "
                       f"{config.model.num_classes}")
    return Run(path=path, config=config, config_source=source, record=record, class_map=class_map,
               targets=TargetState.from_json(labels))


def read_run_config(run_dir: str | Path, overrides: Sequence[str] = ()) -> tuple[Config, str]:
    """The run's config.yaml (with `overrides` applied), validated, and the file it came from."""

    path = run_file(run_dir, CONFIG)
    if not Path(run_dir).is_dir():
        raise CnnError(f"{run_dir}: no such run directory")
    if not path.is_file():
        raise CnnError(f"{run_dir}: not a run directory ({CONFIG} is missing)")
    return config_from_dict(read_yaml(path), str(path), overrides), str(path)


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

    start_backend()
    import keras

    import cnn_cli.layers.custom  # noqa: F401  (registers the tool's own layers for deserialization)

    try:
        with warnings.catch_warnings():  # Keras' warnings about a model it cannot load would add lines
            warnings.simplefilter("ignore")
            # A model trained on PyTorch names PyTorch's optimizer class: elsewhere it loads without its
            # compile settings (readers need no optimizer; evaluation compiles with the run's loss).
            trained_on = optimizer_backend(path)
            return keras.saving.load_model(path, safe_mode=True, compile=trained_on in (None, backend_name()))
    except Exception as exc:  # a broken or foreign file: zip, JSON, HDF5 or Keras errors of many kinds
        raise CnnError(f"{path}: cannot be loaded as a Keras model ({type(exc).__name__}: {first_line(exc)})") from None


def float32_model(model):
    """`model` with every layer in float32 and the same weights: the model itself when it is so, else a clone
    (compiled as the saved one was, when it was)."""
    import keras

    if all(layer.dtype_policy.name == "float32" for layer in all_layers(model)):
        return model

    def in_float32(layer):
        return type(layer).from_config({**layer.get_config(), "dtype": "float32"})

    clone = keras.models.clone_model(model, clone_function=in_float32, recursive=True)
    clone.set_weights(model.get_weights())
    for layer in all_layers(clone):  # an adapted Normalization makes its mean and variance from its weights here
        if hasattr(layer, "finalize_state"):
            layer.finalize_state()
    compiled = model.get_compile_config() if getattr(model, "compiled", False) else None
    if compiled:
        clone.compile_from_config(compiled)
    return clone


def all_layers(model) -> list:
    """The model's layers, those of nested models included."""
    import keras

    found = []
    for layer in model.layers:
        found += all_layers(layer) if isinstance(layer, keras.Model) else [layer]
    return found


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
        what = {"multilabel": "label", "regression": "target"}.get(run.config.task, "class")
        raise CnnError(f"{path}: output shape {outputs} does not give one score per {what} ({run.num_classes} "
                       f"{what}{'es' if what == 'class' else 's'} in {LABELS})")
    if run.format < 2 and any(layer.name == INPUT_SCALING for layer in model.layers):
        raise CnnError(f"{run.path / RUN}: format: 1 (a run.json without format), but {path} scales its own input "
                       f"(its {INPUT_SCALING} layer), which format 2 says; was run.json replaced?")


def _status_of(run_dir: Path) -> str | None:
    try:
        data = json.loads((run_dir / RUN).read_text(encoding="utf-8"))
        return data.get("status") if isinstance(data, dict) else None
    except (OSError, ValueError):
        return None
