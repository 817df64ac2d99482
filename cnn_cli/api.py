"""The Python face of the tool: `cnn_cli.load_run(path)` gives a trained run's model, class names and a
`predict` that takes images as people have them (uint8 arrays or image files).

    import cnn_cli
    run = cnn_cli.load_run("runs/mnist-20261123-113000")
    run.classify(["digit.png"])             # ['7']

Nothing here imports Keras or TensorFlow until a model is loaded; loading registers the tool's own layers
(min pooling, layer scale) first, and checks the file (safe mode) as `cnn predict` does. The model is given in
float32: a run trained in mixed precision saved its layers with a `mixed_bfloat16` (or `mixed_float16`)
policy, and `load_run` rebuilds the same layers with the float32 policy and the saved weights, so it predicts
the same on any machine. `keras.saving.load_model` on the file gives the saved policy.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cnn_cli.errors import CnnError

__all__ = ["TrainedRun", "load_run"]


class TrainedRun:
    """A run directory written by `cnn train`, with its model loaded.

    `model`: the Keras model (float32), taking pixels 0..255 as they are (it scales them itself);
    `class_names`: the class names in the order of the model's outputs (a multi-label run's labels, a
    regression's targets); `input_shape`: (H, W, C); `task`: classification, multilabel or regression;
    `predict(images)`: one row per image of class probabilities, of each label's score (multilabel), or of the
    numbers in the data's units (regression); `classify(images)`: the most likely name of each image, or the
    list of labels above their thresholds (`thresholds`) of each image (multilabel).
    """

    def __init__(self, path: str | Path, model_file: str = "model.keras"):
        from cnn_cli.rundir.run_reader import read_run

        self._run = read_run(path)
        self.path = self._run.path
        self.model = self._run.load_model(model_file)  # float32, as every reader computes

    def __repr__(self) -> str:
        what = {"multilabel": "labels", "regression": "targets"}.get(self.task, "classes")
        return f"TrainedRun({str(self.path)!r}, {len(self.class_names)} {what}, input {self.input_shape})"

    @property
    def class_names(self) -> list[str]:
        return [str(name) for _, _, name in self._run.class_map.entries]

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self._run.input_shape

    @property
    def task(self) -> str:
        """What the model predicts: classification, multilabel or regression."""
        return self._run.task.NAME

    @property
    def thresholds(self) -> list[float] | None:
        """A multi-label run's decision threshold of each label (None for another task)."""
        if self.task != "multilabel":
            return None
        return [float(t) for t in self._run.task.thresholds(self._run.targets, len(self.class_names))]

    @property
    def config(self):
        """The run's resolved config (`cnn_cli.config.Config`)."""
        return self._run.config

    def pixels(self, images: Any) -> np.ndarray:
        """`images` as one uint8 batch (N, H, W, C) of the model's shape: a path or a list of paths (read,
        converted and resized as `cnn predict` does), an array (H, W), (H, W, C) or (N, H, W[, C]), or a
        list of such arrays."""
        from cnn_cli.inference.prediction import read_image

        if isinstance(images, (str, Path)):
            images = [images]
        if isinstance(images, np.ndarray):
            return self._batch(images)
        if not isinstance(images, Sequence) or len(images) == 0:
            raise CnnError("expected images: a path, a list of paths, or uint8 arrays (H, W, C) or (N, H, W, C)")
        rows = [read_image(str(item), self.input_shape, self._run.resize)[None] if isinstance(item, (str, Path)) else
                self._batch(np.asarray(item)) for item in images]
        return np.concatenate(rows)

    def _batch(self, array: np.ndarray) -> np.ndarray:
        h, w, c = self.input_shape
        if array.ndim == 2 and c == 1:  # one grayscale image (H, W)
            array = array[None, ..., None]
        elif array.ndim == 3 and tuple(array.shape) == (h, w, c):  # one image
            array = array[None]
        elif array.ndim == 3 and c == 1:  # grayscale images (N, H, W), as MNIST's arrays are
            array = array[..., None]
        if array.ndim != 4 or tuple(array.shape[1:]) != (h, w, c):
            raise CnnError(f"images of shape {tuple(array.shape)}: the model takes {h}x{w}x{c} images, as uint8 "
                           f"arrays (H, W, C) or (N, H, W, C), or image files (resized for it)")
        if array.dtype != np.uint8 and (array.min(initial=0) < 0 or array.max(initial=0) > 255):
            raise CnnError("pixel values outside 0..255: give the pixels as they are in the image (uint8)")
        return array

    def predict(self, images: Any, batch_size: int = 256) -> np.ndarray:
        """float32 (N, K) for images as `pixels` takes them: class probabilities; each label's score
        (multilabel); the numbers in the data's units (regression: the run's standardisation undone)."""
        x = self._run.model_inputs(self.pixels(images))  # a format-1 run's model gets [0, 1]
        scores = np.asarray(self.model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)
        return self._run.task.outputs(scores, self._run.targets).astype(np.float32)

    def classify(self, images: Any) -> list:
        """The most likely class name of each image; for a multi-label run, the list of the labels whose score
        reaches their threshold, of each image."""
        names, task = self.class_names, self._run.task
        if task.NAME == "regression":
            raise CnnError(f"{self.path}: a regression run gives numbers, not classes: use predict(images)")
        outputs = self.predict(images)
        if task.NAME == "multilabel":
            decided = task.predicted(outputs, self._run.targets)
            return [[names[j] for j in np.flatnonzero(row)] for row in decided]
        return [names[i] for i in np.argmax(outputs, axis=1)]


def load_run(path: str | Path, model_file: str = "model.keras") -> TrainedRun:
    """The run directory `path` (written by `cnn train`) with its model (`model.keras`, or `best.keras`) loaded
    in float32. Errors are `cnn_cli.errors.CnnError`s with one line naming the file."""
    return TrainedRun(path, model_file)

