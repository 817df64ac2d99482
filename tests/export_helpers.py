"""Shared by the export tests: the trained runs (once per session), the exports of the Fashion-MNIST run, the
`cnn export` runner, and the Keras model's own answers in float32 (computed without cnn_cli.export)."""

from __future__ import annotations

import functools
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from cnn_cli.cli import main
from tests.run_helpers import ROOT, _train

FM_NPZ = ROOT / "data" / "fashion_mnist_sample.npz"
SUFFIX = {"saved_model": "", "onnx": ".onnx", "litert": ".tflite"}
FASHION = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
MISSING = [m for m in ("tf2onnx", "onnx", "onnxruntime", "ai_edge_litert") if importlib.util.find_spec(m) is None]
needs_runtimes = pytest.mark.skipif(bool(MISSING), reason=f"the export extra is not installed ({', '.join(MISSING)})")
EVERY_KIND = {  # every layer kind and block of the language in one small net (see test_the_net_has_every_kind)
    "name": "every_kind", "seed": 3,
    "model": {"layers": [
        {"type": "rescaling", "scale": 1 / 255},  # a first layer that scales: the model adds no input_scaling
        {"type": "normalization", "adapt": True},
        {"type": "zero_padding2d", "padding": 2},
        {"type": "reverse_channels"},  # one channel here: the order stays, the gather is exported
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "min_pool2d", "pool_size": 2},
        {"type": "separable_conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "activation": "relu"},
        {"type": "depthwise_conv2d", "kernel_size": 3, "padding": "same"},
        {"type": "conv2d", "filters": 8, "kernel_size": 1, "groups": 2, "name": "grouped"},
        {"type": "channel_padding", "channels": 12},
        {"type": "spatial_dropout2d", "rate": 0.1},
        {"type": "inception", "filters_1x1": 4, "filters_3x3_reduce": 4, "filters_3x3": 4, "filters_5x5_reduce": 2,
         "filters_5x5": 4, "filters_pool_proj": 4},
        {"type": "residual", "filters": 16},
        {"type": "bottleneck", "filters": 4},
        {"type": "inverted_residual", "filters": 16, "expansion": 2, "activation": "swish", "se_ratio": 0.25,
         "drop_rate": 0.1},
        {"type": "squeeze_excitation", "ratio": 0.25},
        {"type": "dense_block", "blocks": 2, "growth_rate": 4},
        {"type": "transition", "reduction": 0.5},
        {"type": "convnext_block", "drop_path_rate": 0.1},
        {"type": "batch_norm"},
        {"type": "layer_normalization"},
        {"type": "layer_scale", "init_values": 0.5},
        {"type": "stochastic_depth", "rate": 0.1},
        {"type": "avg_pool2d", "pool_size": 2, "name": "avg"},
        {"type": "conv2d", "filters": 12, "kernel_size": 1, "name": "side"},
        {"type": "multiply", "inputs": ["avg", "side"], "name": "product"},
        {"type": "add", "inputs": ["product", "side"], "name": "sum"},
        {"type": "concatenate", "inputs": ["sum", "avg"]},
        {"type": "max_pool2d", "pool_size": 2, "name": "max"},
        {"type": "global_max_pool2d", "name": "gmax"},
        {"type": "global_avg_pool2d", "inputs": ["max"], "name": "gavg"},
        {"type": "concatenate", "inputs": ["gmax", "gavg"], "name": "pooled"},
        {"type": "reshape", "target_shape": [2, 24]},
        {"type": "flatten"},
        {"type": "dropout", "rate": 0.1},
        {"type": "dense", "units": 32, "activation": "gelu"},
        {"type": "activation", "activation": "relu6"},
        {"type": "dense", "units": "num_classes", "activation": "softmax"}]},
    "train": {"batch_size": 64, "epochs": 1},
}


@functools.cache
def fashion_run() -> Path:
    """The Fashion-MNIST config on the sample, 2 epochs (test split: 1,000 images)."""
    return _train("fashion", ["--config", str(ROOT / "configs" / "fashion_mnist.yaml"), "--set", "data.source=npz",
                              "--set", f"data.path={FM_NPZ}", "--epochs", "2"])  # the recipe's class names kept


@functools.cache
def every_kind_run() -> Path:
    folder = fashion_run().parent
    config = folder / "every_kind.yaml"
    config.write_text(yaml.safe_dump(EVERY_KIND, sort_keys=False))
    return _train("every_kind", ["--config", str(config), "--data", str(FM_NPZ), "--subset", "500"])


@functools.cache
def exported(fmt: str, quantize: str | None = None) -> tuple[Path, dict]:
    """The export of the Fashion-MNIST run (shared by the tests), and its --json report."""
    path = fashion_run().parent / "exports" / f"fm{'-' + quantize if quantize else ''}{SUFFIX[fmt]}"
    report = export_cli([str(fashion_run()), "--format", fmt, "-o", str(path), "--json",
                      *(["--quantize", quantize] if quantize else [])])
    return path, json.loads(report.output)


def export_cli(args, expect=0):
    from click.testing import CliRunner

    result = CliRunner().invoke(main, ["export", *args])
    assert result.exit_code == expect, result.output
    return result


def fashion_test_split():
    data = np.load(FM_NPZ)
    return data["x_test"][..., None], data["y_test"].astype(np.int64)


def keras_float32(run: Path, x: np.ndarray) -> np.ndarray:
    """The run's Keras model, every layer in float32, on x as it takes them (independent of cnn_cli.export): a
    format-2 run's model scales 0..255 pixels itself; a format-1 run's (no format in run.json) expects [0, 1]."""
    import keras

    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    clone = keras.models.clone_model(
        model, clone_function=lambda layer: type(layer).from_config({**layer.get_config(), "dtype": "float32"}))
    clone.set_weights(model.get_weights())
    pixel_format = json.loads((run / "run.json").read_text()).get("format", 1)
    pixels = x.astype(np.float32) / np.float32(255.0) if pixel_format == 1 else x.astype(np.float32)
    return clone.predict(pixels, batch_size=256, verbose=0)


def files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")} if folder.exists() else set()
