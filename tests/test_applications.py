"""configs/applications/: today's architectures written in the config language, checked against
keras.applications (parameter counts, every stage's output shape, every weighted layer by name and weight
shapes), and trained for a few steps through the real CLI on an RGB fixture made from the Fashion-MNIST
sample."""

from __future__ import annotations

import csv
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cnn_cli.cli import main
from cnn_cli.errors import ConfigError
from cnn_cli.model.analysis import analyze
from cnn_cli.resolve import config_from_dict, load_config

ROOT = Path(__file__).resolve().parents[1]
APPLICATIONS = ROOT / "configs" / "applications"

# config -> (keras.applications name, total, trainable, non-trainable params at 224x224x3 and 1000 classes)
COUNTS = {
    "resnet50": ("ResNet50", 25_636_712, 25_583_592, 53_120),
    "mobilenet_v2": ("MobileNetV2", 3_538_984, 3_504_872, 34_112),
    "densenet121": ("DenseNet121", 8_062_504, 7_978_856, 83_648),
    "efficientnet_b0": ("EfficientNetB0", 5_330_571, 5_288_548, 42_023),
    "convnext_tiny": ("ConvNeXtTiny", 28_589_128, 28_589_128, 0),
}

# The output of each stage, by the layer name both models share, and its shape (without the batch axis).
STAGES = {
    "resnet50": {
        "conv1_relu": (112, 112, 64), "pool1_pool": (56, 56, 64), "conv2_block3_out": (56, 56, 256),
        "conv3_block4_out": (28, 28, 512), "conv4_block6_out": (14, 14, 1024), "conv5_block3_out": (7, 7, 2048),
        "avg_pool": (2048,), "predictions": (1000,),
    },
    "mobilenet_v2": {
        "Conv1_relu": (112, 112, 32), "expanded_conv_project_BN": (112, 112, 16), "block_2_add": (56, 56, 24),
        "block_5_add": (28, 28, 32), "block_9_add": (14, 14, 64), "block_12_add": (14, 14, 96),
        "block_15_add": (7, 7, 160), "block_16_project_BN": (7, 7, 320), "out_relu": (7, 7, 1280),
        "predictions": (1000,),
    },
    "densenet121": {
        "conv1_relu": (112, 112, 64), "pool1": (56, 56, 64), "conv2_block6_concat": (56, 56, 256),
        "pool2_pool": (28, 28, 128), "conv3_block12_concat": (28, 28, 512), "pool3_pool": (14, 14, 256),
        "conv4_block24_concat": (14, 14, 1024), "pool4_pool": (7, 7, 512), "conv5_block16_concat": (7, 7, 1024),
        "relu": (7, 7, 1024), "predictions": (1000,),
    },
    "efficientnet_b0": {
        "stem_activation": (112, 112, 32), "block1a_project_bn": (112, 112, 16), "block2b_add": (56, 56, 24),
        "block3b_add": (28, 28, 40), "block4c_add": (14, 14, 80), "block5c_add": (14, 14, 112),
        "block6d_add": (7, 7, 192), "block7a_project_bn": (7, 7, 320), "top_activation": (7, 7, 1280),
        "predictions": (1000,),
    },
    "convnext_tiny": {  # Keras adds a block's branch with an unnamed `+`: its last named layer is `_identity`
        "convnext_tiny_stem_layernorm": (56, 56, 96), "convnext_tiny_stage_0_block_2_identity": (56, 56, 96),
        "convnext_tiny_downsampling_conv_0": (28, 28, 192), "convnext_tiny_stage_1_block_2_identity": (28, 28, 192),
        "convnext_tiny_downsampling_conv_1": (14, 14, 384), "convnext_tiny_stage_2_block_8_identity": (14, 14, 384),
        "convnext_tiny_downsampling_conv_2": (7, 7, 768), "convnext_tiny_stage_3_block_2_identity": (7, 7, 768),
        "convnext_tiny_head_layernorm": (768,), "convnext_tiny_head_dense": (1000,),
    },
}


def _analysis(name: str, overrides: tuple[str, ...] = ()):
    path = APPLICATIONS / f"{name}.yaml"
    config = load_config(path, overrides)
    return config, analyze(config.model, config.model.input_shape, config.model.num_classes, str(path))


@pytest.mark.parametrize("name", COUNTS)
def test_counts_and_stage_shapes_from_the_analysis(name):
    """The pure-Python analysis (what `cnn summary` reports before TensorFlow starts) gives Keras' counts."""
    config, analysis = _analysis(name)
    _, total, trainable, non_trainable = COUNTS[name]
    assert config.model.input_shape == (224, 224, 3) and config.model.num_classes == 1000
    assert (analysis.total_params, analysis.trainable_params, analysis.non_trainable_params) == (
        total, trainable, non_trainable)
    shapes = {node.name: node.shape for node in analysis.graph.nodes}
    assert {stage: shapes.get(stage) for stage in STAGES[name]} == STAGES[name]


def test_the_analysis_of_all_five_imports_no_keras():
    code = ("import sys\nfrom tests.test_applications import COUNTS, _analysis\n"
            "for name in COUNTS: _analysis(name)\n"
            "print(sorted(m for m in ('keras', 'tensorflow') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_blocks_scale_with_their_arguments():
    """A composite's expansion follows its arguments and its input: ResNet-50 at 64x64 with a wider stage."""
    _, analysis = _analysis("resnet50", ("model.input_shape=[64,64,3]", "model.num_classes=10"))
    shapes = {node.name: node.shape for node in analysis.graph.nodes}
    assert shapes["conv2_block1_0_conv"] == (16, 16, 256)  # the projection: 64 -> 256 channels
    assert "conv2_block2_0_conv" not in shapes  # shapes match: the identity skip
    assert shapes["conv5_block3_out"] == (2, 2, 2048)
    # 1000 classes -> 10: the classifier loses 2048 * 990 weights and 990 biases
    assert analysis.total_params == 25_636_712 - 2049 * 990


def _small(layers: list[dict], input_shape=(16, 16, 8)):
    config = config_from_dict({"name": "blocks", "model": {"input_shape": list(input_shape), "layers": layers}}, "t.yaml")
    analysis = analyze(config.model, input_shape, None, "t.yaml")
    return {node.name: node for node in analysis.graph.nodes}, analysis


@pytest.mark.parametrize("size, padding", [(16, ((0, 1), (0, 1))), (15, ((1, 1), (1, 1)))])
def test_inverted_residual_pads_strided_inputs_as_keras_correct_pad(size, padding):
    nodes, _ = _small([{"type": "inverted_residual", "name": "b", "filters": 12, "strides": 2}], (size, size, 8))
    assert nodes["b_dwconv_pad"].spec.sides() == padding
    assert nodes["b_dwconv"].spec.padding == "valid"
    assert nodes["b_project_bn"].shape == (8, 8, 12)  # ceil(size / 2), as a 'same' convolution would give
    assert "b_add" not in nodes  # the stride changes the shape: no skip


def test_inverted_residual_skip_drop_path_and_squeeze_excitation():
    nodes, analysis = _small([{"type": "inverted_residual", "name": "b", "filters": 8, "expansion": 3,
                               "se_ratio": 0.25, "drop_rate": 0.1, "activation": "swish"}])
    assert nodes["b_expand_conv"].shape == (16, 16, 24)
    assert nodes["b_se_reduce"].shape == (1, 1, 2)  # a quarter of the block's 8 input channels
    assert nodes["b_se_excite"].inputs == ["b_activation", "b_se_expand"]
    assert nodes["b_add"].inputs == ["b_drop", "input_scaling"]
    assert nodes["b_drop"].spec.rate == 0.1
    # expand 8*24 + bn 4*24, depthwise 9*24 + bn 4*24, SE (24*2+2) + (2*24+24), project 24*8 + bn 4*8
    assert analysis.total_params == 192 + 96 + 216 + 96 + 50 + 72 + 192 + 32


@pytest.mark.parametrize("args, reduce_filters", [({"ratio": 0.25}, 2), ({"filters": 3}, 3)])
def test_squeeze_excitation_width(args, reduce_filters):
    nodes, analysis = _small([{"type": "squeeze_excitation", "name": "se", **args}])
    assert nodes["se_reduce"].shape == (1, 1, reduce_filters)
    assert nodes["se_excite"].shape == (16, 16, 8)
    assert analysis.total_params == (8 * reduce_filters + reduce_filters) + (reduce_filters * 8 + 8)


@pytest.mark.parametrize("args", [{"filters": 3, "ratio": 0.5}, {}])
def test_squeeze_excitation_needs_filters_or_ratio(args):
    with pytest.raises(ConfigError) as error:
        _small([{"type": "squeeze_excitation", **args}])
    assert str(error.value).startswith("t.yaml: model.layers[0]: give exactly one of filters and ratio")


def test_dense_block_and_transition_grow_and_compress():
    nodes, _ = _small([{"type": "dense_block", "name": "d", "blocks": 3, "growth_rate": 4},
                       {"type": "transition", "name": "t", "reduction": 0.5}])
    assert [nodes[f"d_block{i}_concat"].shape for i in (1, 2, 3)] == [(16, 16, 12), (16, 16, 16), (16, 16, 20)]
    assert nodes["d_block2_concat"].inputs == ["d_block1_concat", "d_block2_2_conv"]
    assert nodes["d_block3_1_conv"].shape == (16, 16, 16)  # bottleneck: 4 x growth rate
    assert nodes["t_conv"].shape == (16, 16, 10) and nodes["t_pool"].shape == (8, 8, 10)


def test_convnext_block_drop_path_or_identity():
    nodes, analysis = _small([{"type": "convnext_block", "name": "a"},
                              {"type": "convnext_block", "name": "b", "drop_path_rate": 0.1, "layer_scale_init_value": 0}])
    assert nodes["a_add"].inputs == ["input_scaling", "a_identity"] and nodes["a_layer_scale"].spec.init_values == 1e-6
    assert nodes["b_add"].inputs == ["a_add", "b_stochastic_depth"] and "b_layer_scale" not in nodes
    assert nodes["a_pointwise_conv_1"].shape == (16, 16, 32)
    # depthwise 7*7*8+8, layer norm 16, dense 8*32+32 and 32*8+8, layer scale 8 (block a only)
    assert analysis.total_params == 2 * (400 + 16 + 288 + 264) + 8


def test_layer_scale_multiplies_each_channel_and_round_trips():
    import keras

    from cnn_cli.layers.custom.layer_scale import LayerScale

    layer = LayerScale(0.5)
    x = np.arange(12, dtype="float32").reshape(1, 2, 2, 3)
    np.testing.assert_allclose(np.asarray(layer(x)), x * 0.5)
    assert [w.name for w in layer.weights] == ["gamma"] and tuple(layer.weights[0].shape) == (3,)
    copy = keras.layers.deserialize(keras.layers.serialize(layer))
    assert (type(copy), copy.init_values, copy.projection_dim) == (LayerScale, 0.5, 3)


def _flat_layers(model) -> dict:
    """Layers by name, with nested models (ConvNeXt's stem and downsampling Sequentials) opened."""
    import keras

    found = {}
    for layer in model.layers:
        found.update(_flat_layers(layer) if isinstance(layer, keras.Model) else {layer.name: layer})
    return found


def _count(weights) -> int:
    return sum(math.prod(w.shape) for w in weights)


@pytest.mark.parametrize("name", COUNTS)
def test_the_keras_model_equals_keras_applications(name):
    """Built by the tool and by keras.applications (weights=None): equal counts, stage shapes, and every
    Keras layer that has weights is there under its Keras name with the same weight shapes."""
    import keras

    from cnn_cli.model.builder import build_model

    config = load_config(APPLICATIONS / f"{name}.yaml")
    ours = build_model(config.model, config.model.input_shape, config.model.num_classes, name)
    keras_name, total, trainable, non_trainable = COUNTS[name]
    theirs = getattr(keras.applications, keras_name)(weights=None)
    for model in (ours, theirs):
        assert (model.count_params(), _count(model.trainable_weights), _count(model.non_trainable_weights)) == (
            total, trainable, non_trainable)
    ours_by_name, theirs_by_name = _flat_layers(ours), _flat_layers(theirs)
    for stage, shape in STAGES[name].items():
        assert tuple(ours_by_name[stage].output.shape) == (None, *shape), stage
        assert tuple(theirs_by_name[stage].output.shape) == (None, *shape), stage
    weighted = {n: [tuple(w.shape) for w in layer.weights] for n, layer in theirs_by_name.items() if layer.weights}
    assert {n: [tuple(w.shape) for w in ours_by_name[n].weights] if n in ours_by_name else None
            for n in weighted} == weighted


@pytest.fixture(scope="module")
def rgb_npz(tmp_path_factory) -> Path:
    """The Fashion-MNIST sample as 32x32 RGB: the gray channel three times, padded by 2 pixels of
    background on each side; 10 classes."""
    sample = np.load(ROOT / "data" / "fashion_mnist_sample.npz")
    arrays = {}
    for split in ("train", "test"):
        images = np.pad(sample[f"x_{split}"], ((0, 0), (2, 2), (2, 2)))
        arrays[f"x_{split}"] = np.repeat(images[..., None], 3, axis=-1)
        arrays[f"y_{split}"] = sample[f"y_{split}"]
    path = tmp_path_factory.mktemp("rgb") / "fashion_rgb32.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.slow  # 1.5 to 3 minutes each on 2 busy CPU cores: building, tracing and saving big models
@pytest.mark.parametrize("name", COUNTS)
def test_each_config_trains_a_few_steps(runner, rgb_npz, tmp_path, name):
    run = tmp_path / "run"
    args = ["train", "--config", str(APPLICATIONS / f"{name}.yaml"), "--data", str(rgb_npz),
            "--set", "model.input_shape=[32,32,3]", "--set", "model.num_classes=10",
            "--set", "train.batch_size=16", "--subset", "64", "--epochs", "1", "--run-dir", str(run)]
    result = runner.invoke(main, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with (run / "history.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 1
    assert math.isfinite(float(rows[0]["loss"])) and float(rows[0]["loss"]) > 0
