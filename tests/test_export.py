"""`cnn export`: each format gives the Keras model's answers on the Fashion-MNIST sample's test split, takes uint8
pixels, carries its class map; quantized exports keep their accuracy; bf16 and format-2 runs; every layer kind of
the language exports; the example scripts classify a PNG without the tool. (Bad input: test_export_inputs.py.)"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.export import support, verify
from tests.export_helpers import (
    EVERY_KIND,
    FASHION,
    FM_NPZ,
    ROOT,
    SUFFIX,
    every_kind_run,
    export_cli,
    exported,
    fashion_run,
    fashion_test_split,
    keras_float32,
    needs_runtimes,
)
from tests.run_helpers import copy_run, sign_run


@needs_runtimes
@pytest.mark.parametrize("fmt", ["saved_model", "onnx", "litert"])
def test_float_export_gives_the_keras_answers(fmt):
    path, report = exported(fmt)
    v = report["verification"]
    assert report["passed"] and report["path"] == str(path) and path.exists()
    assert v["images"] == 1000 and v["data"].startswith("test split of ")
    assert v["agreement"] >= 0.999 and v["max_difference"] < 1e-4
    x, y = fashion_test_split()
    keras_accuracy = float(np.mean(keras_float32(fashion_run(), x).argmax(axis=1) == y))
    assert v["accuracy_keras"] == pytest.approx(keras_accuracy, abs=1e-9)
    assert abs(v["accuracy_export"] - v["accuracy_keras"]) <= 0.001 and v["accuracy_keras"] > 0.6
    assert v["file_bytes"] == sum(f.stat().st_size for f in ([path] if path.is_file() else path.rglob("*"))
                                  if f.is_file()) > 100_000
    assert v["latency_ms"] > 0 and v["images_per_second"] > 0
    assert report["seconds"] < 60

    labels = json.loads(Path(report["labels"]).read_text())
    assert Path(report["labels"]).name == path.name + ".labels.json"
    assert [c["name"] for c in labels["classes"]] == FASHION and [c["id"] for c in labels["classes"]] == list(range(10))
    assert labels["config_sha256"] == hashlib.sha256((fashion_run() / "config.yaml").read_bytes()).hexdigest()
    assert labels["input"]["dtype"] == "uint8" and labels["input"]["shape"] == [None, 28, 28, 1]
    assert labels["output"] == {"name": "probabilities", "dtype": "float32", "shape": [None, 10]}
    assert labels["verification"]["agreement"] == v["agreement"] and labels["file"] == path.name
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary files left


@needs_runtimes
def test_onnx_takes_uint8_and_carries_the_class_map():
    import onnx
    import onnxruntime

    path, _ = exported("onnx")
    proto = onnx.load(str(path))
    (image,), (output,) = proto.graph.input, proto.graph.output
    assert image.name == "image" and image.type.tensor_type.elem_type == onnx.TensorProto.UINT8
    assert [d.dim_param or d.dim_value for d in image.type.tensor_type.shape.dim] == ["batch", 28, 28, 1]
    assert output.name == "probabilities" and output.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {t.data_type for t in proto.graph.initializer} <= {onnx.TensorProto.FLOAT, onnx.TensorProto.INT64,
                                                               onnx.TensorProto.INT32}
    meta = {p.key: p.value for p in proto.metadata_props}
    assert [c["name"] for c in json.loads(meta["classes"])] == FASHION
    assert meta["config_sha256"] == hashlib.sha256((fashion_run() / "config.yaml").read_bytes()).hexdigest()

    x, _ = fashion_test_split()  # raw uint8 pixels in, the probabilities of the Keras model on x / 255 out
    got = onnxruntime.InferenceSession(str(path)).run(["probabilities"], {"image": x[:300]})[0]
    assert got.dtype == np.float32 and np.abs(got - keras_float32(fashion_run(), x[:300])).max() < 1e-4


@needs_runtimes
def test_saved_model_signature_and_assets():
    import tensorflow as tf

    path, report = exported("saved_model")
    serve = tf.saved_model.load(str(path)).signatures["serving_default"]
    (spec,) = serve.structured_input_signature[1].values()
    assert spec.dtype == tf.uint8 and spec.shape.as_list() == [None, 28, 28, 1] and spec.name == "image"
    assert serve.structured_outputs["probabilities"].dtype == tf.float32
    inside = json.loads((path / "assets.extra" / "labels.json").read_text())
    assert inside["classes"] == json.loads(Path(report["labels"]).read_text())["classes"]


@needs_runtimes
@pytest.mark.parametrize("fmt,quantize,max_share", [("litert", "float16", 0.55), ("litert", "dynamic_int8", 0.3),
                                                     ("onnx", "dynamic_int8", 0.3)])
def test_quantized_export_keeps_accuracy_within_one_point(fmt, quantize, max_share):
    path, report = exported(fmt, quantize)
    v = report["verification"]
    assert report["passed"] and report["quantize"] == quantize and path.name == f"fm-{quantize}{SUFFIX[fmt]}"
    assert v["accuracy_export"] >= v["accuracy_keras"] - 0.01 and "within 1 point" in v["rule"]
    assert v["max_difference"] > 1e-6  # it is quantized: not bit-for-bit the float model
    assert v["file_bytes"] < max_share * exported(fmt)[1]["verification"]["file_bytes"]


@needs_runtimes
def test_class_ids_with_a_gap_and_the_validation_split(tmp_path):
    """Sign-language layout: 24 classes, ids 0..24 without 9, no test split (verified on the validation split)."""
    report = json.loads(export_cli([str(sign_run()), "--format", "litert", "-o", str(tmp_path / "sign.tflite"),
                                 "--json"]).output)
    v = report["verification"]
    assert report["passed"] and v["data"].startswith("validation split of ") and v["images"] > 0
    assert v["agreement"] >= 0.999 and v["max_difference"] < 1e-4
    labels = json.loads((tmp_path / "sign.tflite.labels.json").read_text())
    assert [c["id"] for c in labels["classes"]] == [i for i in range(25) if i != 9]
    assert [c["index"] for c in labels["classes"]] == list(range(24)) and labels["output"]["shape"] == [None, 24]


def test_verification_rule_float_and_quantized():
    _, y = fashion_test_split()
    rows, other = np.arange(len(y)), (y + 1) % 10
    expected = np.full((len(y), 10), 0.2 / 8, np.float32)
    expected[rows, y], expected[rows, other] = 0.4, 0.4  # a near tie between the true class and the next one
    expected[rows, other] -= 2e-4

    def swapped(n, shift=0.0):  # the export ranks the tie the other way on the first n images
        got = expected.copy()
        got[rows[:n], y[:n]], got[rows[:n], other[:n]] = expected[rows[:n], other[:n]], expected[rows[:n], y[:n]]
        return lambda x: got[x[:, 0, 0, 0]] + np.float32(shift)

    x = rows.reshape(-1, 1, 1, 1)
    run = functools.partial(verify.verify, expected=expected, x=x, y=y, runtime="numpy", data="test", file_bytes=1)
    one, two = run(swapped(1), quantized=False), run(swapped(2), quantized=False)
    assert (one.agreement, one.passed, two.agreement, two.passed) == (0.999, True, 0.998, False)
    assert one.max_difference == pytest.approx(2e-4, rel=1e-3)
    assert two.failure().startswith("the export does not give the Keras model's answers: top-1 agreement 99.80%")
    assert not run(swapped(0, shift=1.5e-3), quantized=False).passed  # every answer the same, probabilities off
    tenth = run(swapped(10), quantized=True)  # accuracy 1.000 -> 0.990: 1 point, the most a quantized export may lose
    assert (tenth.accuracy_keras, tenth.accuracy_export, tenth.passed) == (1.0, 0.99, True)
    assert not run(swapped(11), quantized=True).passed


@needs_runtimes
def test_mixed_bfloat16_model_exports_in_float32(tmp_path):
    import keras
    import onnx

    run = copy_run(fashion_run(), tmp_path)
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    bf16 = keras.models.clone_model(
        model, clone_function=lambda layer: type(layer).from_config({**layer.get_config(), "dtype": "mixed_bfloat16"}))
    bf16.set_weights(model.get_weights())
    bf16.save(run / "model.keras")
    report = json.loads(export_cli([str(run), "--format", "onnx", "-o", str(tmp_path / "bf16.onnx"), "--json"]).output)
    v = report["verification"]
    assert v["agreement"] >= 0.999 and v["max_difference"] < 1e-4
    x, y = fashion_test_split()
    assert v["accuracy_keras"] == pytest.approx(np.mean(keras_float32(run, x).argmax(axis=1) == y), abs=1e-9)
    types = {t.data_type for t in onnx.load(str(tmp_path / "bf16.onnx")).graph.initializer}
    assert onnx.TensorProto.BFLOAT16 not in types and onnx.TensorProto.FLOAT in types


@needs_runtimes
def test_format_1_run_gets_its_scaling_and_format_2_none(tmp_path):
    """A run written before pixel scaling moved into the model (tests/fixtures/run_format1, run.json without
    format): the export divides by 255 in front of its model. A format-2 run's model starts with its own."""
    import onnxruntime

    run = copy_run(ROOT / "tests" / "fixtures" / "run_format1", tmp_path)
    report = json.loads(export_cli([str(run), "--format", "onnx", "-o", str(tmp_path / "old.onnx"), "--json"]).output)
    v = report["verification"]
    assert report["passed"] and v["agreement"] >= 0.999 and v["max_difference"] < 1e-4 and v["images"] == 200
    data = np.load(ROOT / "data" / "mnist_sample.npz")
    from cnn_cli.data.splits import subset_positions

    keep = subset_positions(data["y_test"].astype(np.int32), 200)  # the run's subset, as the loader takes it
    x, y = data["x_test"][keep][..., None], data["y_test"][keep]
    expected = keras_float32(run, x)  # its model on x / 255
    assert v["accuracy_export"] == pytest.approx(np.mean(expected.argmax(axis=1) == y), abs=1e-9)
    got = onnxruntime.InferenceSession(str(tmp_path / "old.onnx")).run(["probabilities"], {"image": x})[0]
    assert np.abs(got - expected).max() < 1e-4  # uint8 pixels in: the /255 is inside the export
    assert json.loads((fashion_run() / "run.json").read_text())["format"] == 2
    assert exported("onnx")[1]["verification"]["accuracy_export"] > 0.6  # raw pixels into the model, no second /255


def test_the_net_has_every_kind():
    from cnn_cli.layers import registry
    from cnn_cli.resolve import config_from_dict

    config = config_from_dict({**EVERY_KIND, "model": {**EVERY_KIND["model"], "input_shape": [28, 28, 1],
                                                       "num_classes": 10}}, "every_kind")
    assert {layer.type for layer in config.model.layers} == set(registry.names())


@needs_runtimes
@pytest.mark.slow  # 10 to 70 s each on 2 busy cores (the first trains the net)
@pytest.mark.parametrize("fmt", ["saved_model", "onnx", "litert"])
def test_every_layer_kind_and_block_exports(fmt, tmp_path):
    """Min pooling, every block, grouped convolutions, gelu and normalization (the last three rewritten for ONNX or
    LiteRT, see cnn_cli/export/rewrite.py), against the Keras model as it is."""
    out = tmp_path / f"every_kind{SUFFIX[fmt]}"
    report = json.loads(export_cli([str(every_kind_run()), "--format", fmt, "-o", str(out), "--json"]).output)
    v = report["verification"]
    assert report["passed"] and v["agreement"] >= 0.999 and v["max_difference"] < 1e-4 and v["images"] == 500


def test_every_layer_kind_of_the_configs_is_in_the_table():
    from cnn_cli.model.builder import build_model
    from cnn_cli.resolve import config_from_dict, load_config

    kinds = set()
    configs = sorted((ROOT / "configs").rglob("*.yaml"))
    every = config_from_dict({**EVERY_KIND, "model": {**EVERY_KIND["model"], "input_shape": [28, 28, 1],
                                                      "num_classes": 10}}, "every_kind")
    for config in [load_config(str(path)) for path in configs] + [every]:
        shape = tuple(config.model.input_shape or (28, 28, 1))
        model = build_model(config.model, shape, config.model.num_classes or 24)
        kinds |= {kind for kind, _ in support.layer_kinds(model)}
        assert all(support.blocking(model, fmt) == {} for fmt in support.FORMATS), config.name
    assert len(configs) >= 10 and {"MinPooling2D", "StochasticDepth", "LayerScale", "Normalization"} <= kinds
    assert kinds - {"InputLayer"} <= set(support.EXPORTS_TO)


def _replace_model(run: Path, build, from_logits: bool = False) -> set[str]:
    """Puts a model of `build(image)` into `run` (trained one epoch on the sample), returns its layer kinds."""
    import keras

    image = keras.Input((28, 28, 1), name="input")
    model = keras.Model(image, build(image))
    data = np.load(FM_NPZ)
    model.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=from_logits))
    model.fit(data["x_train"][..., None] / np.float32(255.0), data["y_train"], epochs=1, batch_size=64, verbose=0)
    model.save(run / "model.keras")
    return {kind for kind, _ in support.layer_kinds(model)} - {"InputLayer"}


def _export_kinds(run: Path, fmt: str, out: Path) -> dict:
    report = json.loads(export_cli([str(run), "--format", fmt, "-o", str(out), "--images", "300", "--json"]).output)
    v = report["verification"]
    assert report["passed"] and v["agreement"] >= 0.999 and v["max_difference"] < 1e-4, (fmt, report)
    return report


@needs_runtimes
def test_fixed_normalization_and_a_model_that_ends_in_scores(tmp_path):
    """A Normalization with a fixed mean and variance; no softmax in the model: the export adds one."""
    from ai_edge_litert.interpreter import Interpreter
    from keras import layers

    def build(image):
        x = layers.Normalization(mean=0.3, variance=0.1)(layers.Rescaling(1 / 255)(image))
        return layers.Dense(10)(layers.Flatten()(x))

    run = copy_run(fashion_run(), tmp_path)
    assert _replace_model(run, build, from_logits=True) == {"Rescaling", "Normalization", "Flatten", "Dense"}
    for fmt in support.FORMATS:
        _export_kinds(run, fmt, tmp_path / f"norm{SUFFIX[fmt]}")
    interpreter = Interpreter(model_path=str(tmp_path / "norm.tflite"))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"], fashion_test_split()[0][:1])
    interpreter.invoke()
    probabilities = interpreter.get_tensor(interpreter.get_output_details()[0]["index"])
    assert probabilities.min() >= 0 and probabilities.sum() == pytest.approx(1.0, abs=1e-5)


@needs_runtimes
@pytest.mark.parametrize("fmt", ["onnx", "litert", "saved_model"])
def test_example_script_classifies_a_png_without_the_tool(fmt, tmp_path):
    from PIL import Image

    x, _ = fashion_test_split()
    index = 7
    png = tmp_path / "item.png"
    Image.fromarray(x[index, ..., 0]).save(png)
    path, _ = exported(fmt)
    script = ROOT / "examples" / f"classify_{fmt}.py"
    code = ("import runpy, sys; sys.modules['cnn_cli'] = None; sys.argv = sys.argv[1:]; "
            "runpy.run_path(sys.argv[0], run_name='__main__')")
    done = subprocess.run([sys.executable, "-c", code, str(script), str(path), str(png)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": ""})
    assert done.returncode == 0, done.stderr
    lines = [line.split("\t") for line in done.stdout.strip().splitlines()]
    probabilities = keras_float32(fashion_run(), x[index:index + 1])[0]
    best = np.argsort(-probabilities)[:3]
    assert [name for name, _ in lines] == [FASHION[i] for i in best]
    assert float(lines[0][1]) == pytest.approx(float(probabilities[best[0]]), abs=1e-4)
