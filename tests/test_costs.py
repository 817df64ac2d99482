"""Parameters, MACs and activation memory: the seeds' worked examples and every config in configs/."""

from __future__ import annotations

import json

import pytest

from cnn_cli.cli import main
from cnn_cli.model.analysis import analyze
from cnn_cli.resolve import config_from_dict, load_config
from tests.conftest import CONFIGS

# name -> (total, trainable, non-trainable) params, from the seeds' model.summary()
SEED_PARAMS = {
    "mnist": (93_322, 93_322, 0),
    "sign_language": (264_049, 263_749, 300),
    "fashion_mnist": (333_526, 333_526, 0),
}


def one_conv(input_shape, filters, kernel_size):
    return config_from_dict(
        {"name": "one_conv", "model": {"input_shape": input_shape, "layers": [
            {"type": "conv2d", "filters": filters, "kernel_size": kernel_size, "padding": "same"}]}},
        "test.yaml",
    )


def test_seed_memory_example_150x100x3_with_200_5x5_filters(runner, write_config):
    config = write_config({"name": "seed_memory", "model": {"input_shape": [150, 100, 3], "layers": [
        {"type": "conv2d", "filters": 200, "kernel_size": 5, "padding": "same"}]}})
    result = runner.invoke(main, ["summary", "--config", config, "--json", "--batch-size", "100"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["total_params"] == 15_200  # ((5*5*3)+1)*200
    assert report["total_macs"] == 225_000_000
    # the conv's 150*100*200 float32, plus the model's own input_scaling (150*100*3 float32)
    assert report["activation_bytes_per_example"] == 12_000_000 + 180_000
    assert report["activation_bytes_per_batch"] == 1_218_000_000
    assert report["layers"][0] == {
        "name": "input_scaling", "type": "rescaling", "output_shape": [150, 100, 3], "params": 0,
        "trainable_params": 0, "non_trainable_params": 0, "macs": 0, "activation_bytes": 180_000,
    }
    assert report["layers"][1] == {
        "name": "conv2d", "type": "conv2d", "output_shape": [150, 100, 200], "params": 15_200,
        "trainable_params": 15_200, "non_trainable_params": 0, "macs": 225_000_000, "activation_bytes": 12_000_000,
    }


def test_seed_inception_cost_example_28x28x192_with_32_5x5_filters():
    analysis = analyze(one_conv([28, 28, 192], 32, 5).model, (28, 28, 192), None, "test.yaml")
    assert analysis.total_macs == 120_422_400


@pytest.mark.parametrize("name", sorted(SEED_PARAMS))
def test_seed_configs_have_the_seeds_parameter_counts(name, runner):
    args = ["summary", "--config", f"configs/{name}.yaml", "--json"]
    if name == "sign_language":  # its classes come from the data
        args += ["--data", "data/sign_layout_sample/train.csv"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert (report["total_params"], report["trainable_params"], report["non_trainable_params"]) == SEED_PARAMS[name]


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("*.yaml")), ids=lambda p: p.stem)
def test_analysis_agrees_with_keras_for_every_config(path):
    """The pure-Python figures (used before TensorFlow starts) match the built Keras model, layer by layer."""
    import numpy as np

    from cnn_cli.model.builder import build_model

    config = load_config(path)
    classes = config.model.num_classes or 24
    analysis = analyze(config.model, config.model.input_shape, classes, str(path))
    model = build_model(config.model, config.model.input_shape, classes, str(path))
    assert analysis.total_params == model.count_params()
    assert analysis.non_trainable_params == sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    shapes = {}
    for item in analysis.layers:
        shapes[item.name] = item.output_shape
        shapes.update({child.name: child.output_shape for child in item.children})
    for keras_layer in model.layers[1:]:
        assert tuple(keras_layer.output.shape[1:]) == shapes[keras_layer.name], keras_layer.name


def test_blocks_are_reported_with_their_layers(runner):
    result = runner.invoke(main, ["summary", "--config", "configs/inception_resnet.yaml", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    blocks = {item["type"]: item for item in report["layers"] if "layers" in item}
    assert set(blocks) == {"inception", "residual"}
    for block in report["layers"]:
        if "layers" in block:
            assert block["params"] == sum(child["params"] for child in block["layers"])
            assert block["macs"] == sum(child["macs"] for child in block["layers"])
    assert report["total_params"] == sum(item["params"] for item in report["layers"])
    projection = [c for c in report["layers"][7]["layers"] if c["name"].endswith("_proj")]  # [0]: input_scaling
    assert projection, "a residual unit that halves the size and widens needs a 1x1 projection"


def test_text_summary_shows_keras_table_and_totals(runner):
    result = runner.invoke(main, ["summary", "--config", "configs/mnist.yaml"])
    assert result.exit_code == 0, result.output
    assert 'Model: "mnist"' in result.output
    assert "Total params:          93,322" in result.output
    assert "MACs per example:      5,682,304" in result.output
    assert "Activations per batch of 64:" in result.output


def test_mixed_precision_halves_activation_memory(runner):
    base = runner.invoke(main, ["summary", "--config", "configs/mnist.yaml", "--json"])
    mixed = runner.invoke(main, ["summary", "--config", "configs/mnist.yaml", "--json", "--set", "train.precision=mixed_bfloat16"])
    a, b = json.loads(base.output), json.loads(mixed.output)
    assert b["activation_bytes_per_example"] * 2 == a["activation_bytes_per_example"]


def test_plot_writes_a_png(runner, tmp_path):
    import shutil

    if shutil.which("dot") is None:
        pytest.skip("graphviz is not installed")
    out = tmp_path / "model.png"
    result = runner.invoke(main, ["summary", "--config", "configs/inception_resnet.yaml", "--plot", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
