"""ONNX: one `.onnx` file for onnxruntime (Python, C++, C#, Java, the browser), `image` uint8 (batch, H, W, C)
-> `probabilities` float32 (batch, K) (a multi-label model's `scores`, a regression's `values`: the output the
metadata names), the class map in the model's metadata_props.

Converted by Keras' own ONNX export, which on TensorFlow goes through tf2onnx (1.17 works with TensorFlow 2.21
and Keras 3.15); `dynamic_int8` is onnxruntime's dynamic quantization (int8 weights, activations quantized as
the model runs)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

NAME = "ONNX"
SUFFIX = ".onnx"
RUNTIME = "onnxruntime"
NEEDS = {"tf2onnx": "tf2onnx", "onnx": "onnx", "onnxruntime": "onnxruntime"}
QUANTIZE = ("dynamic_int8",)


def write(model, path: Path, quantize: str | None, metadata: dict) -> None:
    """Writes `path` (a new file) for the uint8 model `model`; `metadata` goes into metadata_props."""
    import keras
    import onnx

    spec = keras.InputSpec(shape=(None, *model.input_shape[1:]), dtype="uint8", name="image")
    float_path = path.with_name(path.name + ".float.onnx") if quantize else path
    try:
        with warnings.catch_warnings():  # Keras' patch of tf2onnx for numpy 2 trips a FutureWarning of numpy
            warnings.simplefilter("ignore", FutureWarning)
            model.export(str(float_path), format="onnx", verbose=False, input_signature=[spec])
        if quantize:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(float_path), str(path), weight_type=QuantType.QInt8)
    finally:
        if quantize:
            float_path.unlink(missing_ok=True)
    proto = onnx.load(str(path))
    _name_io(proto.graph, metadata["output"]["name"])
    for key, value in metadata.items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, value if isinstance(value, str) else json.dumps(value)
    onnx.checker.check_model(proto)
    onnx.save(proto, str(path))


def _name_io(graph, output: str) -> None:
    """Names the output `output` (probabilities, scores, values) and the free first dimension `batch` (tf2onnx
    leaves `Identity:0`, `unk__N`)."""
    old = graph.output[0].name
    for node in graph.node:
        node.output[:] = [output if name == old else name for name in node.output]
        node.input[:] = [output if name == old else name for name in node.input]
    graph.output[0].name = output
    for value in (graph.input[0], graph.output[0]):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"


def load(path: Path):
    """A function uint8 images -> float32 probabilities, run by onnxruntime on the CPU."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def predict(x: np.ndarray) -> np.ndarray:
        return session.run(None, {name: x})[0]  # the one output

    return predict
