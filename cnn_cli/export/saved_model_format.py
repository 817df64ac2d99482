"""TensorFlow SavedModel: a folder for TF Serving and `tf.saved_model.load`, with one signature,
`serving_default` (also `serve`): `image` uint8 (batch, H, W, C) -> `probabilities` float32 (batch, K) (the
output the sidecar names: a multi-label model's `scores`, a regression's `values`).
The class map goes into the folder's `assets.extra/` (the place TF Serving leaves to its users) too."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnn_cli.backends.tensorflow import start as _tensorflow

NAME = "SavedModel"
SUFFIX = ""
RUNTIME = "tensorflow"
NEEDS: dict[str, str] = {}  # TensorFlow is a dependency of the tool itself
QUANTIZE: tuple[str, ...] = ()
CLASS_MAP_INSIDE = "assets.extra/labels.json"


def write(model, path: Path, quantize: str | None, metadata: dict) -> None:
    """Writes the SavedModel folder `path` (which must not exist) for the uint8 model `model`, its output named
    as `metadata` says (probabilities, scores, values)."""
    import keras
    tf = _tensorflow()  # through the backend boundary: SavedModel and LiteRT are TensorFlow formats

    archive = keras.export.ExportArchive()
    archive.track(model)
    spec = tf.TensorSpec(shape=(None, *model.input_shape[1:]), dtype=tf.uint8, name="image")
    output = metadata["output"]["name"]
    archive.add_endpoint("serve", lambda image: {output: model(image, training=False)}, input_signature=[spec])
    archive.write_out(str(path), verbose=False)
    inside = path / CLASS_MAP_INSIDE
    inside.parent.mkdir(parents=True, exist_ok=True)
    inside.write_text(json.dumps(metadata, indent=2) + "\n", encoding="utf-8")


def load(path: Path):
    """A function uint8 images -> float32 probabilities, run by TensorFlow from the SavedModel at `path`."""
    tf = _tensorflow()  # through the backend boundary: SavedModel and LiteRT are TensorFlow formats

    serve = tf.saved_model.load(str(path)).signatures["serving_default"]

    def predict(x: np.ndarray) -> np.ndarray:
        (found,) = serve(image=tf.constant(x)).values()  # the one output, whatever its name
        return found.numpy()

    return predict
