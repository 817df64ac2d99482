"""What an export starts from: a complete run directory read back, its model in float32, the model people
will call (uint8 pixels in, float32 probabilities out) and the test images that verify it.

This is the only module of `export/` that reads the run (`rundir.run_reader`).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_cli.errors import CnnError
from cnn_cli.inference.evaluation import load_split
from cnn_cli.rundir.records import input_scale
from cnn_cli.rundir.run_reader import Run, all_layers, read_run  # noqa: F401  (all_layers: for exporter)
from cnn_cli.tasks.calibration import SIGMOID_EPSILON, SOFTMAX_FLOOR


@dataclass
class Source:
    """A run to export: the run, the scale its model expects (1/255 for format-1 runs, None when the model
    scales its own pixels), the SHA-256 of its config.yaml and the path of its model file."""

    run: Run
    scale: float | None
    config_sha256: str
    model_path: Path

    @property
    def classes(self) -> list[dict]:
        return [{"index": int(i), "id": _plain(ident), "name": str(name)} for i, ident, name in self.run.class_map.entries]


def open_run(run_dir: str | Path) -> Source:
    """The run, refused unless its status is complete."""
    run = read_run(run_dir)
    layout = run.dir
    if run.status != "complete":
        raise CnnError(f"{layout.run}: status: the run is {run.status or 'not finished'!r}, not 'complete'; "
                       "export a finished run (finish this one with cnn train --resume)")
    scale = input_scale(run.record)  # 1/255 for a format-1 run, whose model expects [0, 1]; 1 from format 2 on
    digest = hashlib.sha256(layout.config.read_bytes()).hexdigest()
    return Source(run=run, scale=scale if scale != 1.0 else None, config_sha256=digest, model_path=layout.model)


def float32_model(source: Source):
    """The run's model with every layer in float32: the one model the readers compute with (`Run.load_model`)."""
    return source.run.load_model()


def serving_model(model, scale: float | None, run: Run | None = None):
    """`model` behind a uint8 (batch, H, W, C) input named `image`, with the scaling it expects, and a float32
    softmax output named `probabilities` (a softmax layer is added when the model ends in scores); a multi-label
    run's sigmoid scores as they are; a calibrated run's at its temperature (`train.calibrate`); a regression run's numbers in the data's units (its standardisation
    undone by a last `Rescaling` of the targets' standard deviations and means)."""
    import keras
    from keras import layers, ops

    task = run.task.NAME if run is not None else "classification"
    image = keras.Input(shape=tuple(model.input_shape[1:]), dtype="uint8", name="image")
    pixels = layers.Rescaling(scale, name="input_scaling")(image) if scale else ops.cast(image, input_dtype(model))
    outputs = model(pixels)
    if task == "regression":
        k = len(run.class_map)
        mean = list(run.targets.mean or [0.0] * k)
        std = list(run.targets.std or [1.0] * k)
        outputs = layers.Rescaling(np.asarray(std, np.float32), offset=np.asarray(mean, np.float32),
                                   dtype="float32", name="in_units")(outputs)
    elif task == "classification" and not ends_in_softmax(model):
        outputs = layers.Softmax(dtype="float32", name="probabilities")(outputs)
    temperature = run.targets.temperature if run is not None else None
    if temperature is not None and task in ("classification", "multilabel"):
        outputs = _at_temperature(ops.cast(outputs, "float32"), float(temperature), task)
    return keras.Model(image, ops.cast(outputs, "float32"), name="export")


def _at_temperature(outputs, temperature: float, task: str):
    """The calibrated probabilities inside the exported model, as `cnn_cli.tasks.calibration` computes them:
    a softmax's logits taken back as log p (floored), or a sigmoid's as log(p / (1 - p)) (clipped), divided by
    the run's temperature."""
    from keras import ops

    if task == "classification":
        return ops.softmax(ops.log(ops.maximum(outputs, SOFTMAX_FLOOR)) / temperature, axis=-1)
    p = ops.clip(outputs, SIGMOID_EPSILON, 1.0 - SIGMOID_EPSILON)
    return ops.sigmoid((ops.log(p) - ops.log(1.0 - p)) / temperature)


def reference(model, scale: float | None, x: np.ndarray, batch_size: int = 256, run: Run | None = None) -> np.ndarray:
    """The float32 Keras model's probabilities for uint8 images, scaled as its training pipeline scaled them
    (another task's outputs: scores, or numbers in the data's units)."""
    pixels = x.astype(np.float32) / np.float32(255.0) if scale else x.astype(input_dtype(model))
    scores = np.asarray(model.predict(pixels, batch_size=batch_size, verbose=0), dtype=np.float32)
    if run is not None and (run.task.SEVERAL or run.targets.temperature is not None):
        return run.task.outputs(scores, run.targets).astype(np.float32)
    if ends_in_softmax(model):
        return scores
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def test_images(source: Source, data_path: str | None, limit: int | None) -> tuple[np.ndarray, np.ndarray, str]:
    """The run's test split (its validation split when it has none), the first `limit` images, and what it is."""
    split = load_split(source.run, data_path=data_path)
    x, y = split.x[:limit], split.y[:limit]  # only these images are gathered from the data
    origin = data_path or source.run.data_path or split.origin
    return x, y, f"{split.name} split of {origin}"


def input_dtype(model) -> str:
    """The dtype the model's input takes: float32, or uint8 for a model that casts its own pixels."""
    return str(getattr(model.inputs[0], "dtype", None) or "float32")


def ends_in_softmax(model) -> bool:
    last = model.layers[-1]
    if type(last).__name__ == "Softmax":
        return True
    return getattr(getattr(last, "activation", None), "__name__", "") == "softmax"



def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
