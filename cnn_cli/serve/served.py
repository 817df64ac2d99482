"""The run a server answers with: read once, its model loaded once in float32 (`Run.load_model`, the model `cnn
predict`, `load_run` and the exports compute with), its answers for images held in memory.

An upload is decoded as `cnn predict` decodes a file (`cnn_cli.data.images.read_image`: the decompression-bomb
guard, the EXIF orientation, the model's channels, the run's `data.resize`), from the bytes, never from a file
on disk. The scores are the model's `predict_on_batch` (Keras' one-batch call, the numbers `predict` gives without
its per-call set-up), read by the run's task (`Task.outputs`): class probabilities, each label's score, or
numbers in the data's units. What one prediction says is the task's `prediction` entry, with a classification's
top classes written as `{"class", "score"}`."""

from __future__ import annotations

import hashlib
import io
import platform
from pathlib import Path

import numpy as np

from cnn_cli import __version__
from cnn_cli.backends import name as backend_name
from cnn_cli.data.images import MODES, read_image
from cnn_cli.errors import CnnError
from cnn_cli.inference import gradcam
from cnn_cli.rundir.run_reader import read_run
from cnn_cli.serve.batcher import Batcher
from cnn_cli.tasks.base import NO_STATE


class Served:
    """A run directory with its model loaded, ready to answer. Every problem of the run directory (missing or
    damaged files, a model that is not safe to load) is the `CnnError` of `read_run`/`load_model`, raised here,
    before any port is bound."""

    def __init__(self, run_dir: str | Path, batch: bool = True):
        self.run = read_run(run_dir)
        self.model = self.run.load_model()  # float32, checked, safe mode
        self.task = self.run.task
        self.name = self.run.path.name
        self.classes = self.run.class_map.entries
        self.input_shape = self.run.input_shape
        if self.input_shape[2] not in MODES:
            raise CnnError(f"{self.run.path}: the model takes {self.input_shape[2]}-channel images; only 1 (grayscale), "
                           "3 (RGB) and 4 (RGBA) can be made from image files, so it cannot be served")
        self.config_sha256 = hashlib.sha256(self.run.dir.config.read_bytes()).hexdigest()
        self.gradcam = gradcam.available() and self._cam_layer() is not None
        self._predict_on_batch(np.zeros((1, *self.input_shape), dtype=np.uint8))  # the first call traces the model
        self._batcher = Batcher(self._predict_on_batch, batch=batch)

    def _cam_layer(self) -> str | None:
        try:
            return gradcam.cam_layer(self.model)
        except ValueError:  # no layer with a spatial output: no map to draw
            return None

    def _predict_on_batch(self, pixels: np.ndarray) -> np.ndarray:
        """The task's outputs of a batch, run padded to a power of two images (with black ones, whose rows are
        dropped): the backend traces the model once per batch size, so a server sees at most 7 sizes up to 64
        rather than one trace per new count of images."""
        count = len(pixels)
        size = 1 << max(0, count - 1).bit_length()
        if size != count:
            pixels = np.concatenate([pixels, np.zeros((size - count, *pixels.shape[1:]), dtype=pixels.dtype)])
        x = self.run.model_inputs(pixels)  # scaled for a format-1 run's model only
        scores = np.asarray(self.model.predict_on_batch(x), dtype=np.float64)[:count]
        return self.task.outputs(scores, self.run.targets) if self.run.targets != NO_STATE else self.task.outputs(scores)

    def close(self) -> None:
        self._batcher.close()

    def decode(self, data: bytes, source: str) -> np.ndarray:
        """One upload's pixels, uint8 (H, W, C) at the model's shape; a `DataError` naming `source` when the bytes
        are not an image the model can take."""
        return read_image(io.BytesIO(data), self.input_shape, self.run.resize, name=source)

    def outputs(self, pixels: np.ndarray):
        """A Future of the task's outputs (N, K) for uint8 pixels (N, H, W, C), computed on the model's thread."""
        return self._batcher.submit(pixels)

    def prediction(self, source: str, outputs: np.ndarray, top_k: int) -> dict:
        """What is said of one image: `{"source", "top": [{"class", "score"}]}` for a classification (the `top_k`
        most probable first), else `{"source", ...}` with the task's own entry (a multi-label run's labels above
        their thresholds and scores, a regression's values in the data's units)."""
        entry = (self.task.prediction(outputs, self.classes, top_k, self.run.targets) if self.run.targets != NO_STATE
                 else self.task.prediction(outputs, self.classes, top_k))
        if "top" in entry:
            entry = {**entry, "top": [{"class": t["name"], "score": t["probability"]} for t in entry["top"]]}
        return {"source": source, **entry}

    def cam_class(self, outputs: np.ndarray) -> int:
        """The class whose Grad-CAM is drawn: the most likely (a regression's first target)."""
        return 0 if self.task.NAME == "regression" else int(np.argmax(outputs))

    def cams(self, pixels: np.ndarray, classes: list[int]) -> np.ndarray | None:
        """Grad-CAM maps (N, h, w) in [0, 1] of `classes` for uint8 pixels (N, H, W, C); None without Grad-CAM."""
        if not self.gradcam:
            return None
        return gradcam.grad_cam(self.model, self.run.model_inputs(pixels), np.asarray(classes), self._cam_layer())

    def info(self) -> dict:
        """What `GET /info` says: the model, its task, classes (a multi-label run's labels, a regression's targets)
        and input, the config's digest, the versions."""
        import keras

        return {"model": self.name, "task": self.task.NAME, "classes": [str(name) for _, _, name in self.classes],
                "input_shape": list(self.input_shape), "resize": self.run.resize, "status": self.run.status,
                "config_name": self.run.config.name, "config_sha256": self.config_sha256,
                "gradcam": self.gradcam,
                "versions": {"cnn": __version__, "keras": keras.__version__, "backend": backend_name(),
                             "backend_version": _backend_version(backend_name()), "python": platform.python_version()}}


def _backend_version(name: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return None
