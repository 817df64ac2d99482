"""Every layer kind against Keras: the pure-Python shapes and parameter counts equal the built model's,
layer by layer; MACs follow the rule in each kind's docstring; a model with every kind round-trips through
.keras in safe mode."""

from __future__ import annotations

import numpy as np
import pytest

from cnn_cli.model.analysis import analyze
from cnn_cli.resolve import config_from_dict

C = {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "name": "c"}
CASES = {
    "conv2d dilation": [{"type": "conv2d", "filters": 6, "kernel_size": 3, "dilation_rate": 2}],
    "conv2d groups, l2, initializer": [{"type": "conv2d", "filters": 6, "kernel_size": 3, "groups": 2, "kernel_regularizer": 0.01,
                                        "kernel_initializer": "he_normal", "padding": "same"}],
    "depthwise_conv2d": [{"type": "depthwise_conv2d", "kernel_size": 3, "depth_multiplier": 2, "strides": 2, "padding": "same"}],
    "separable_conv2d": [{"type": "separable_conv2d", "filters": 5, "kernel_size": 3, "depth_multiplier": 2}],
    "zero_padding2d": [{"type": "zero_padding2d", "padding": [[1, 2], [0, 3]]}],
    "rescaling first": [{"type": "rescaling", "scale": 0.5, "offset": -1}],
    "normalization fixed": [{"type": "normalization", "mean": [1, 2, 3, 4], "variance": 4}],
    "normalization adapted": [{"type": "rescaling", "scale": 0.004}, {"type": "normalization", "adapt": True}],
    "layer_normalization": [{"type": "layer_normalization", "epsilon": 1e-6}],
    "spatial_dropout2d": [{"type": "spatial_dropout2d", "rate": 0.2}],
    "reshape": [{"type": "reshape", "target_shape": [-1, 8]}],
    "add": [C, {"type": "conv2d", "filters": 4, "kernel_size": 1, "name": "d", "inputs": ["input_scaling"]},
            {"type": "add", "inputs": ["c", "d"]}],
    "multiply broadcasts a gate": [C, {"type": "global_avg_pool2d", "keepdims": True, "name": "g"},
                                   {"type": "dense", "units": 4, "activation": "sigmoid", "name": "gate"},
                                   {"type": "multiply", "inputs": ["c", "gate"]}],
    "concatenate": [C, {"type": "max_pool2d", "pool_size": 3, "strides": 1, "padding": "same", "name": "p", "inputs": ["input_scaling"]},
                    {"type": "concatenate", "inputs": ["c", "p", "input_scaling"]}],
    "stochastic_depth": [{"type": "stochastic_depth", "rate": 0.1}],
    "min_pool2d": [{"type": "min_pool2d", "pool_size": 3, "strides": 2, "padding": "same"}],
    "global_max_pool2d": [{"type": "global_max_pool2d"}],
    "dense per position": [{"type": "dense", "units": 3}],
    "batch_norm": [{"type": "batch_norm", "momentum": 0.9}],
    "inception": [{"type": "inception", "filters_1x1": 2, "filters_3x3_reduce": 2, "filters_3x3": 3,
                   "filters_5x5_reduce": 1, "filters_5x5": 2, "filters_pool_proj": 2}],
    "residual with projection": [{"type": "residual", "filters": 6, "strides": 2}],
}


def build(layers, input_shape=(8, 8, 4), classes=3):
    from cnn_cli.model.builder import build_model

    config = config_from_dict({"name": "kinds", "model": {"input_shape": list(input_shape), "layers": layers}}, "t.yaml")
    return config, analyze(config.model, input_shape, classes, "t.yaml"), build_model(config.model, input_shape, classes, "t.yaml")


@pytest.mark.parametrize("layers", CASES.values(), ids=CASES.keys())
def test_shapes_and_params_equal_keras_layer_by_layer(layers):
    _, analysis, model = build(layers)
    nodes = {node.name: node for node in analysis.graph.nodes}
    assert sorted(layer.name for layer in model.layers[1:]) == sorted(nodes)
    for layer in model.layers[1:]:
        node = nodes[layer.name]
        assert tuple(layer.output.shape[1:]) == node.shape, layer.name
        cost = node.spec.cost(node.input_shapes, node.shape)
        assert cost.params == layer.count_params(), layer.name
        assert cost.non_trainable == sum(int(np.prod(w.shape)) for w in layer.non_trainable_weights), layer.name
    assert analysis.total_params == model.count_params()
    assert analysis.output_shape == tuple(model.output.shape[1:])


def test_macs_follow_each_kinds_rule():
    def macs(layer, shape=(8, 8, 4)):
        config = config_from_dict({"name": "m", "model": {"input_shape": list(shape), "layers": [layer]}}, "t")
        return analyze(config.model, shape, 3, "t").layers[1].macs

    assert macs({"type": "depthwise_conv2d", "kernel_size": 3, "depth_multiplier": 2, "padding": "same"}) == 8 * 8 * 4 * 2 * 3 * 3
    assert macs({"type": "separable_conv2d", "filters": 5, "kernel_size": 3, "padding": "same"}) == 8 * 8 * 4 * 9 + 8 * 8 * 4 * 5
    assert macs({"type": "conv2d", "filters": 6, "kernel_size": 3, "groups": 2, "padding": "same"}) == 8 * 8 * 6 * 9 * 2
    assert macs({"type": "layer_normalization"}) == 8 * 8 * 4
    assert macs({"type": "add", "inputs": ["input_scaling", "input_scaling"]}) == 0
    assert macs({"type": "zero_padding2d", "padding": 1}) == 0


def test_adapted_normalization_has_2c_plus_1_non_trainable_weights_and_adapts():
    from cnn_cli.model.builder import adapt_normalization

    _, analysis, model = build(CASES["normalization adapted"])
    assert (analysis.total_params, analysis.non_trainable_params) == (9, 9)
    images = np.random.default_rng(0).integers(0, 256, (64, 8, 8, 4)).astype("float32")
    assert adapt_normalization(model, images) == ["normalization"]
    out = np.asarray(model(images))
    np.testing.assert_allclose(out.mean(axis=(0, 1, 2)), 0, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(0, 1, 2)), 1, atol=1e-2)


def test_self_scaling_first_layers_replace_input_scaling():
    for first in (CASES["rescaling first"], CASES["normalization fixed"]):
        _, analysis, _ = build(first)
        assert analysis.layers[0].name != "input_scaling"
    _, analysis, _ = build(CASES["batch_norm"])
    assert analysis.layers[0].name == "input_scaling"


def test_every_kind_round_trips_in_safe_mode(tmp_path):
    layers = [
        {"type": "zero_padding2d", "padding": 1},
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "dilation_rate": 2, "kernel_regularizer": 1e-4, "name": "a"},
        {"type": "depthwise_conv2d", "kernel_size": 3, "padding": "same", "name": "dw"},
        {"type": "separable_conv2d", "filters": 8, "kernel_size": 3, "padding": "same", "name": "sep"},
        {"type": "add", "inputs": ["a", "sep"]},
        {"type": "stochastic_depth", "rate": 0.2},
        {"type": "layer_normalization"},
        {"type": "spatial_dropout2d", "rate": 0.1},
        {"type": "min_pool2d", "pool_size": 2, "name": "mp"},
        {"type": "global_avg_pool2d", "keepdims": True},
        {"type": "multiply", "inputs": ["mp", "global_average_pooling2d"]},
        {"type": "conv2d", "filters": 4, "kernel_size": 1, "groups": 4, "name": "grouped"},
        {"type": "concatenate", "inputs": ["grouped", "mp"]},
        {"type": "reshape", "target_shape": [-1, 12]},
        {"type": "dense", "units": "num_classes", "activation": "softmax"},
        {"type": "flatten"},
    ]
    _, _, model = build(layers, (8, 8, 3), 3)
    loaded = _round_trip(model, tmp_path, seed=1)
    assert {type(layer).__name__ for layer in loaded.layers} >= {"MinPooling2D", "StochasticDepth", "Rescaling"}


def _round_trip(model, tmp_path, seed: int):
    """Saves `model`, checks the file against the safe-mode allow-list, loads it in safe mode, and checks its
    outputs equal the original's; returns the loaded model."""
    import keras

    from cnn_cli.model.file_safety import check_keras_file

    size = model.input_shape[1:]
    x = np.random.default_rng(seed).integers(0, 256, (2, *size)).astype("float32")
    expected = np.asarray(model(x, training=False))
    path = tmp_path / "model.keras"
    model.save(path)
    check_keras_file(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    np.testing.assert_allclose(np.asarray(loaded(x, training=False)), expected, rtol=1e-5, atol=1e-6)
    return loaded


def test_every_block_round_trips_in_safe_mode(tmp_path):
    layers = [
        {"type": "conv2d", "filters": 8, "kernel_size": 3, "padding": "same"},
        {"type": "bottleneck", "filters": 4, "strides": 2},
        {"type": "inverted_residual", "filters": 16, "expansion": 2, "se_ratio": 0.25, "drop_rate": 0.1},
        {"type": "squeeze_excitation", "ratio": 0.25},
        {"type": "dense_block", "blocks": 2, "growth_rate": 4},
        {"type": "transition"},
        {"type": "convnext_block", "kernel_size": 3, "drop_path_rate": 0.1},
        {"type": "layer_scale"},
        {"type": "residual", "filters": 8},
        {"type": "inception", "filters_1x1": 2, "filters_3x3_reduce": 2, "filters_3x3": 2,
         "filters_5x5_reduce": 2, "filters_5x5": 2, "filters_pool_proj": 2},
        {"type": "global_avg_pool2d"},
        {"type": "dense", "units": "num_classes", "activation": "softmax"},
    ]
    _, analysis, model = build(layers, (16, 16, 3), 3)
    assert analysis.total_params == model.count_params()
    loaded = _round_trip(model, tmp_path, seed=2)
    assert {"LayerScale", "StochasticDepth"} <= {type(layer).__name__ for layer in loaded.layers}


def test_residual_momentum_reaches_each_batch_norm_of_the_unit():
    _, _, model = build([{"type": "residual", "name": "r", "filters": 6, "strides": 2, "momentum": 0.9},
                         {"type": "residual", "name": "s", "filters": 6}])
    momenta = {layer.name: layer.momentum for layer in model.layers if type(layer).__name__ == "BatchNormalization"}
    assert momenta == {"r_bn1": 0.9, "r_bn2": 0.9, "r_proj_bn": 0.9, "s_bn1": 0.99, "s_bn2": 0.99}
