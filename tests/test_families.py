"""configs/applications/'s families: one file per family, each member made by the `--set` flags of its
`# member NAME: ...` line, checked against keras.applications (parameter counts, each stage's output shape,
every weighted layer by name and weight shapes). The analysis of every member runs in the fast suite; the
Keras build of one member per family too, of the others under `slow`."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from cnn_cli.cli import main
from cnn_cli.model.analysis import analyze
from cnn_cli.resolve import load_config
from tests.test_applications import _count, _flat_layers

ROOT = Path(__file__).resolve().parents[1]
APPLICATIONS = ROOT / "configs" / "applications"
MEMBER = re.compile(r"^# *member +(\w+) *:(.*)$")

# (family file, member) -> keras.applications name, its keyword arguments, total / trainable / non-trainable
# params at the member's input shape and 1000 classes, and the output of each stage by the name both share.
MEMBERS = {
    ("resnet", "resnet50"): ("ResNet50", {}, (25_636_712, 25_583_592, 53_120), {
        "conv1_relu": (112, 112, 64), "conv2_block3_out": (56, 56, 256), "conv3_block4_out": (28, 28, 512),
        "conv4_block6_out": (14, 14, 1024), "conv5_block3_out": (7, 7, 2048), "predictions": (1000,)}),
    ("resnet", "resnet101"): ("ResNet101", {}, (44_707_176, 44_601_832, 105_344), {
        "conv3_block4_out": (28, 28, 512), "conv4_block23_out": (14, 14, 1024), "conv5_block3_out": (7, 7, 2048)}),
    ("resnet", "resnet152"): ("ResNet152", {}, (60_419_944, 60_268_520, 151_424), {
        "conv3_block8_out": (28, 28, 512), "conv4_block36_out": (14, 14, 1024), "conv5_block3_out": (7, 7, 2048)}),
    ("efficientnet", "b0"): ("EfficientNetB0", {}, (5_330_571, 5_288_548, 42_023), {
        "stem_activation": (112, 112, 32), "block1a_project_bn": (112, 112, 16), "block2b_add": (56, 56, 24),
        "block3b_add": (28, 28, 40), "block4c_add": (14, 14, 80), "block5c_add": (14, 14, 112),
        "block6d_add": (7, 7, 192), "block7a_project_bn": (7, 7, 320), "top_activation": (7, 7, 1280),
        "predictions": (1000,)}),
    ("efficientnet", "b1"): ("EfficientNetB1", {}, (7_856_239, 7_794_184, 62_055), {
        "stem_activation": (120, 120, 32), "block2c_add": (60, 60, 24), "block4d_add": (15, 15, 80),
        "block6e_add": (8, 8, 192), "block7b_add": (8, 8, 320), "top_activation": (8, 8, 1280)}),
    ("efficientnet", "b2"): ("EfficientNetB2", {}, (9_177_569, 9_109_994, 67_575), {
        "stem_activation": (130, 130, 32), "block3c_add": (33, 33, 48), "block5d_add": (17, 17, 120),
        "block7b_add": (9, 9, 352), "top_activation": (9, 9, 1408)}),
    ("efficientnet", "b3"): ("EfficientNetB3", {}, (12_320_535, 12_233_232, 87_303), {
        "stem_activation": (150, 150, 40), "block1b_add": (150, 150, 24), "block3c_add": (38, 38, 48),
        "block6f_add": (10, 10, 232), "block7b_add": (10, 10, 384), "top_activation": (10, 10, 1536)}),
    ("mobilenet_v3", "large"): ("MobileNetV3Large", {}, (5_507_432, 5_483_032, 24_400), {
        "conv_bn": (112, 112, 16), "expanded_conv_add": (112, 112, 16), "expanded_conv_2_add": (56, 56, 24),
        "expanded_conv_5_add": (28, 28, 40), "expanded_conv_9_add": (14, 14, 80), "expanded_conv_11_add": (14, 14, 112),
        "expanded_conv_14_add": (7, 7, 160), "conv_1_bn": (7, 7, 960), "conv_2": (1, 1, 1280), "logits": (1, 1, 1000),
        "predictions": (1000,)}),
    ("mobilenet_v3", "small"): ("MobileNetV3Small", {}, (2_554_968, 2_542_856, 12_112), {
        "conv_bn": (112, 112, 16), "expanded_conv_project_bn": (56, 56, 16), "expanded_conv_2_add": (28, 28, 24),
        "expanded_conv_5_add": (14, 14, 40), "expanded_conv_7_add": (14, 14, 48), "expanded_conv_10_add": (7, 7, 96),
        "conv_1_bn": (7, 7, 576), "conv_2": (1, 1, 1024), "predictions": (1000,)}),
    ("inception_v3", "inception_v3"): ("InceptionV3", {}, (23_851_784, 23_817_352, 34_432), {
        "activation_4": (71, 71, 192), "mixed0": (35, 35, 256), "mixed2": (35, 35, 288), "mixed3": (17, 17, 768),
        "mixed7": (17, 17, 768), "mixed8": (8, 8, 1280), "mixed9_0": (8, 8, 768), "mixed9": (8, 8, 2048),
        "mixed10": (8, 8, 2048), "predictions": (1000,)}),
}
FAST = {("resnet", "resnet50"), ("efficientnet", "b0"), ("mobilenet_v3", "small"), ("inception_v3", "inception_v3")}  # the Keras build in the fast suite: one member per family


def members(family: str) -> dict[str, list[str]]:
    """The family file's members: name -> the `--set` values of its comment line (as a shell splits them)."""
    found = {}
    for line in (APPLICATIONS / f"{family}.yaml").read_text().splitlines():
        match = MEMBER.match(line)
        if match:
            words = shlex.split(match.group(2))
            assert words[::2] == ["--set"] * (len(words) // 2), line
            found[match.group(1)] = words[1::2]
    return found


def test_every_member_line_is_tested():
    files = sorted({family for family, _ in MEMBERS})
    assert {(family, name) for family in files for name in members(family)} == set(MEMBERS)


@pytest.mark.parametrize("family, member", sorted(MEMBERS), ids=[f"{f}-{m}" for f, m in sorted(MEMBERS)])
def test_member_counts_and_stage_shapes_from_the_analysis(family, member):
    """The pure-Python analysis (`cnn summary` before TensorFlow starts) gives Keras' counts for each member."""
    config = load_config(APPLICATIONS / f"{family}.yaml", members(family)[member])
    _, _, counts, stages = MEMBERS[family, member]
    analysis = analyze(config.model, config.model.input_shape, config.model.num_classes, family)
    assert (analysis.total_params, analysis.trainable_params, analysis.non_trainable_params) == counts
    shapes = {node.name: node.shape for node in analysis.graph.nodes}
    assert {stage: shapes.get(stage) for stage in stages} == stages


@pytest.mark.parametrize("family", sorted({f for f, _ in MEMBERS}))
def test_members_build_with_cnn_summary(runner, family):
    """The member lines work as a user types them: `cnn summary --config FILE <flags>`."""
    name, flags = next(iter(members(family).items()))
    result = runner.invoke(main, ["summary", "--config", str(APPLICATIONS / f"{family}.yaml"), "--json",
                                  *shlex.split(" ".join(f"--set {shlex.quote(v)}" for v in flags))])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["total_params"] == MEMBERS[family, name][2][0]


def _equal_to_keras(family: str, member: str) -> None:
    import keras

    from cnn_cli.model.builder import build_model

    keras.utils.clear_session()  # Keras numbers unnamed layers (normalization_1) by the models built before
    config = load_config(APPLICATIONS / f"{family}.yaml", members(family)[member])
    ours = build_model(config.model, config.model.input_shape, config.model.num_classes, family)
    keras_name, kwargs, counts, stages = MEMBERS[family, member]
    theirs = getattr(keras.applications, keras_name)(weights=None, input_shape=tuple(config.model.input_shape),
                                                     **kwargs)
    for model in (ours, theirs):
        assert (model.count_params(), _count(model.trainable_weights), _count(model.non_trainable_weights)) == counts
    ours_by_name, theirs_by_name = _flat_layers(ours), _flat_layers(theirs)
    for stage, shape in stages.items():
        assert tuple(ours_by_name[stage].output.shape) == (None, *shape), stage
        assert tuple(theirs_by_name[stage].output.shape) == (None, *shape), stage
    weighted = {n: [tuple(w.shape) for w in layer.weights] for n, layer in theirs_by_name.items() if layer.weights}
    assert {n: [tuple(w.shape) for w in ours_by_name[n].weights] if n in ours_by_name else None
            for n in weighted} == weighted


@pytest.mark.parametrize("family, member", sorted(FAST))
def test_one_member_of_each_family_equals_keras_applications(family, member):
    _equal_to_keras(family, member)


@pytest.mark.slow  # tens of seconds each on 2 CPU cores: two big models built
@pytest.mark.parametrize("family, member", sorted(set(MEMBERS) - FAST))
def test_every_other_member_equals_keras_applications(family, member):
    _equal_to_keras(family, member)


# members whose ImageNet weights Keras publishes, beyond the five of test_pretrained_twins: the mode of their
# preprocess_input (None: inside the model) and the input size of the check
TWINS = {("resnet", "resnet101"): ("caffe", 64), ("resnet", "resnet152"): ("caffe", 64),
         ("efficientnet", "b1"): (None, 64), ("efficientnet", "b2"): (None, 64), ("efficientnet", "b3"): (None, 64),
         ("inception_v3", "inception_v3"): ("tf", 150),  # mixed10 3x3: batch norms of 1x1 maps amplify rounding
         ("mobilenet_v3", "large"): (None, 96), ("mobilenet_v3", "small"): (None, 96)}
NEW_HEAD = {"mobilenet_v3": ["conv_2", "logits"]}  # Keras' notop file ends at conv_1_bn: the 1x1 conv after pooling starts new


@pytest.mark.slow  # a minute each on 2 CPU cores
@pytest.mark.parametrize("family, member", sorted(TWINS), ids=[f"{f}-{m}" for f, m in sorted(TWINS)])
def test_keras_weights_load_into_the_member_with_identical_outputs(tmp_path, family, member):
    """The offline proof of `model.weights: imagenet` for the new members: a keras.applications notop model
    (weights=None, its biases and batch norms drawn at random and calibrated), saved as Keras' published files
    are (legacy .h5), loads into the member by name and gives its outputs on the same pixels."""
    import keras
    import numpy as np
    from keras.applications import imagenet_utils

    from cnn_cli.model.builder import build_model
    from cnn_cli.model.imagenet import TABLE
    from cnn_cli.model.weights import load_matching, read_weights
    from tests.test_pretrained_twins import _draw

    mode, size = TWINS[family, member]
    config = load_config(APPLICATIONS / f"{family}.yaml", [*members(family)[member], f"model.input_shape=[{size},{size},3]",
                                                           "model.num_classes=7"])
    keras.utils.clear_session()
    theirs = getattr(keras.applications, MEMBERS[family, member][0])(weights=None, include_top=False,
                                                                      input_shape=(size, size, 3))
    _draw(theirs, np.random.default_rng(0), ("bias", "mean", "variance", "gamma", "beta"))
    pixels = np.random.default_rng(1).integers(0, 256, (2, size, size, 3)).astype("float32")
    given = imagenet_utils.preprocess_input(pixels.copy(), mode=mode) if mode else pixels
    for layer in theirs.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.momentum = 0.0
    theirs(given, training=True)  # the batch norms' statistics those of the compared pixels
    path = tmp_path / "notop.h5"
    theirs.save(path)
    ours = build_model(config.model, (size, size, 3), 7, family)
    loaded, left = load_matching(ours, read_weights(path))
    assert [entry.split(" ")[0] for entry in left] == NEW_HEAD.get(family, ["predictions"])  # the classifier starts new
    last = TABLE[config.model.architecture].backbone[0]
    got = np.asarray(keras.Model(ours.inputs, ours.get_layer(last).output)(pixels, training=False))
    expected = np.asarray(theirs(given, training=False))
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-3 * float(np.abs(expected).max()))
