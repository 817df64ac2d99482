"""LiteRT (TensorFlow Lite): one `.tflite` file for phones and small boards, uint8 (batch, H, W, C) in,
float32 probabilities (batch, K) out, built from TFLite's builtin operators only (no Flex delegate needed).

Converted by Keras' LiteRT export (TensorFlow's converter), run for verification by the LiteRT interpreter of
the `ai-edge-litert` package. `float16` stores the weights in float16; `dynamic_int8` stores them in int8 and
quantizes activations as the model runs. LiteRT has no simple place for the class map inside the file: it
lies beside it only."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cnn_cli.backends.tensorflow import start as _tensorflow

NAME = "LiteRT"
SUFFIX = ".tflite"
RUNTIME = "ai-edge-litert"
NEEDS = {"ai_edge_litert": "ai-edge-litert"}
QUANTIZE = ("float16", "dynamic_int8")


def write(model, path: Path, quantize: str | None, metadata: dict) -> None:
    """Writes `path` (a new file ending in .tflite) for the uint8 model `model`."""
    import keras
    tf = _tensorflow()  # through the backend boundary: SavedModel and LiteRT are TensorFlow formats

    spec = keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="uint8", name="image")
    target_spec: dict = {"supported_ops": [tf.lite.OpsSet.TFLITE_BUILTINS]}
    options: dict = {}
    if quantize:
        options["optimizations"] = [tf.lite.Optimize.DEFAULT]
    if quantize == "float16":
        target_spec["supported_types"] = [tf.float16]
    model.export(str(path), format="litert", verbose=False, input_signature=[spec], target_spec=target_spec,
                 **options)


def load(path: Path):
    """A function uint8 images -> float32 probabilities, run by the LiteRT interpreter."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    image = interpreter.get_input_details()[0]["index"]
    output = interpreter.get_output_details()[0]["index"]
    interpreter.allocate_tensors()  # here, so that its notice (XNNPACK) is written while it is captured
    shape: list = list(interpreter.get_input_details()[0]["shape"])

    def predict(x: np.ndarray) -> np.ndarray:
        if list(x.shape) != shape:
            interpreter.resize_tensor_input(image, list(x.shape))
            interpreter.allocate_tensors()
            shape[:] = list(x.shape)
        interpreter.set_tensor(image, x)
        interpreter.invoke()
        return interpreter.get_tensor(output).copy()

    return predict
