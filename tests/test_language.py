"""The model language's second step: expressions, model.params, repeat's forms, when:, output:, names with
{$...}, and their errors (one line each, at the call, before TensorFlow)."""

from __future__ import annotations

import json

import pytest

from cnn_cli.cli import main
from cnn_cli.expressions import ExpressionError, evaluate, fill_braces, make_divisible
from cnn_cli.model.analysis import analyze
from cnn_cli.resolve import config_from_dict

SCOPE = {"filters": 64, "params": {"width": 1.1, "depths": [3, 4, 6, 3]}, "in": {"channels": 32}, "i": 2, "i0": 1,
         "n": 3, "kind": "relu"}


@pytest.mark.parametrize("text, value", [
    ("$filters * 4", 256), ("$filters // 3 + $filters % 3", 22), ("-$filters / 4", -16.0), ("2 ** 3", 8),
    ("$params.depths[2]", 6), ("$params.depths[$i0 + 1]", 6), ("ceil($params.width * 3)", 4),
    ("floor(2.7) + round(2.5) + round(0.126, 2)", 4.13), ("min(4, $n, 9)", 3), ("max(1, $in.channels // 4)", 8),
    ("$i0 % 2 == 0 or not $n < 2", True), ("$i0 % 2 == 0 or $n < 2", False), ("$kind", "relu"), ("$kind == 'relu' and $i >= 2", True),
    ("$params.depths", [3, 4, 6, 3]), ("1e-3 * 2", 0.002), ("(1 + 2) * 3", 9), ("1 + 2 * 3", 7),
    ("sum($params.depths[:2])", 7), ("len($params.depths[1:])", 3), ("[ceil(1.1 * 2), 1][0]", 3),
    ("'same' if $i == 1 else 'valid'", "valid"), ("1 if false else 2 if true else 3", 2),
])
def test_expressions_compute(text, value):
    assert evaluate(text, SCOPE) == pytest.approx(value) if isinstance(value, float) else evaluate(text, SCOPE) == value


@pytest.mark.parametrize("text, fragment", [
    ("$nope", "unknown reference $nope; known here: $filters"), ("$params.x", "unknown key $params.x; $params has: width"),
    ("$filters +", "ends too soon"), ("open(1)", "unknown function 'open'"), ("$params.depths[9]", "outside the list"),
    ("1 / 0", "division by zero"), ("$kind + 1", "+ takes numbers"), ("3 $filters", "unexpected '$filters'"),
    ("__import__('os')", "unknown function '__import__'"), ("$filters.__class__", "unknown key"),
    ("$filters; 1", "cannot read ';"), ("lambda: 1", "unknown function 'lambda'"),
])
def test_expression_errors_are_one_line(text, fragment):
    with pytest.raises(ExpressionError) as error:
        evaluate(text, SCOPE)
    assert fragment in str(error.value) and "\n" not in str(error.value)


@pytest.mark.parametrize("value, divisor, expected", [
    (32 * 1.4, 8, 48), (32 * 0.35, 8, 16), (16 * 1.2, 8, 24), (32 * 1.2, 8, 40), (1280 * 1.1, 8, 1408), (3, 8, 8),
    (96 * 0.75, 8, 72), (10, 4, 12),
])
def test_make_divisible_is_keras_rule(value, divisor, expected):
    """keras.applications' `_make_divisible` (MobileNetV2 with alpha 1.4 and 0.35; EfficientNet B3's stem)."""
    assert make_divisible(value, divisor) == expected


def test_names_take_block_parameters():
    assert fill_braces("conv_dw_{$id}_{i}", {"id": 3}) == "conv_dw_3_{i}"
    assert fill_braces("mixed9_{$i - 9}", {"i": 10}) == "mixed9_1"


UNIT = {"params": {"filters": None, "strides": 1, "se": False, "out": "$filters * 2", "id": 0},
        "layers": [
            {"type": "zero_padding2d", "name": "pad", "padding": 1, "when": "$strides == 2"},
            {"type": "conv2d", "name": "conv_{$id}", "filters": "$out", "kernel_size": 3, "strides": "$strides",
             "padding": "same"},
            {"type": "squeeze_excitation", "name": "se", "filters": "max(1, $in.channels // 4)", "when": "$se"},
            {"type": "dropout", "name": "drop", "rate": "$params.drop * $i0 / $n", "output": True}]}


def model(layers, blocks=None, params=None, shape=(32, 32, 3)):
    section = {"input_shape": list(shape), "num_classes": 10, "layers": layers}
    if blocks:
        section["blocks"] = blocks
    if params is not None:
        section["params"] = params
    return {"name": "lang", "model": section}


FAMILY = model([
    {"type": "conv2d", "name": "stem", "filters": "make_divisible(32 * $params.width, 8)", "kernel_size": 3},
    {"type": "unit", "name": "s1_{i}", "filters": 8, "repeat": "$params.depths[0] + 1", "se": True, "id": "$i"},
    {"type": "unit", "name": "s2_b", "filters": 16, "strides": 2,
     "repeat": {"count": "$params.depths[1]", "start": 2, "strides": "last"}},
    {"type": "global_avg_pool2d"}, {"type": "dense", "units": "$num_classes", "activation": "softmax"},
], {"unit": UNIT}, {"width": 1.0, "depths": [1, 2], "drop": 0.2})


def nodes_of(raw, overrides=()):
    config = config_from_dict(raw, "lang.yaml", overrides)
    analysis = analyze(config.model, config.model.input_shape, 10, "lang.yaml")
    return {node.name: node for node in analysis.graph.nodes}, analysis


def test_a_family_by_model_params():
    nodes, _ = nodes_of(FAMILY)
    assert nodes["stem"].shape == (30, 30, 32)
    # repeat: an expression; the copy's number in the name and in a parameter ({$id} in the block's name)
    assert [n for n in nodes if n.startswith("s1_")] == [
        "s1_1_conv_1", "s1_1_se_squeeze", "s1_1_se_reshape", "s1_1_se_reduce", "s1_1_se_expand", "s1_1_se_excite",
        "s1_1", "s1_2_conv_2", "s1_2_se_squeeze", "s1_2_se_reshape", "s1_2_se_reduce", "s1_2_se_expand",
        "s1_2_se_excite", "s1_2"]
    assert nodes["s1_1_conv_1"].shape == (30, 30, 16)  # out: a default computed from filters
    assert nodes["s1_1_se_reduce"].shape == (1, 1, 4)  # $in.channels // 4
    assert nodes["s1_1"].spec.type == "dropout"  # output: true takes the call's name
    # {count, start, strides: last}: numbered from 2, the last copy strides, `when:` pads only that one
    assert "s2_b2_pad" not in nodes and nodes["s2_b2_conv_0"].shape == (30, 30, 32)
    assert nodes["s2_b3_pad"].shape == (32, 32, 32) and nodes["s2_b3_conv_0"].shape == (16, 16, 32)
    assert "s2_b3_se_reduce" not in nodes  # se: false by default, the layer left out
    assert [nodes[n].spec.rate for n in ("s2_b2", "s2_b3")] == [0.0, 0.1]  # $params.drop * $i0 / $n


def test_set_model_params_makes_another_member(runner, write_config):
    nodes, _ = nodes_of(FAMILY, ["model.params.width=1.4", "model.params.depths=[0, 3]"])
    assert nodes["stem"].shape == (30, 30, 48)
    assert [n for n in nodes if n.startswith("s2_b") and n.count("_") == 1] == ["s2_b2", "s2_b3", "s2_b4"]
    assert [round(nodes[n].spec.rate, 4) for n in ("s2_b2", "s2_b3", "s2_b4")] == [0.0, 0.0667, 0.1333]
    config = write_config(FAMILY)
    result = runner.invoke(main, ["summary", "--config", config, "--json", "--set", "model.params.width=1.4"])
    assert result.exit_code == 0, result.output
    rows = {row["name"]: row for row in json.loads(result.output)["layers"]}
    assert rows["stem"]["output_shape"] == [30, 30, 48]


def test_when_at_the_top_and_num_classes_in_any_integer():
    nodes, _ = nodes_of(model([
        {"type": "conv2d", "name": "a", "filters": 4, "kernel_size": 1},
        {"type": "dropout", "name": "maybe", "rate": 0.5, "when": "$params.drop"},
        {"type": "conv2d", "name": "head", "filters": "num_classes", "kernel_size": 1, "inputs": ["maybe"]},
        {"type": "global_avg_pool2d"}, {"type": "reshape", "target_shape": ["num_classes"]}], params={"drop": False}))
    assert "maybe" not in nodes and nodes["head"].inputs == ["a"]  # left out: its input passes on, under its name
    assert nodes["head"].shape == (32, 32, 10)
    assert nodes["reshape"].shape == (10,)


def test_type_may_be_a_parameter():
    blocks = {"act": {"params": {"kind": "relu", "layer": "activation"},
                      "layers": [{"type": "$layer", "activation": "$kind", "name": "a"}]}}
    nodes, _ = nodes_of(model([{"type": "act", "name": "x", "kind": "hard_swish"}, {"type": "flatten"},
                               {"type": "dense", "units": 10}], blocks))
    assert nodes["x_a"].spec.activation == "hard_swish"


ERRORS = [
    ("a bad value given to a block: at the call",
     [{"type": "unit", "filters": -3}], "model.layers[0].filters",
     "expected a positive integer (at model.blocks.unit.layers[1].filters: out = '$filters * 2' = -6), received -3"),
    ("a string for an integer", [{"type": "conv2d", "filters": "16", "kernel_size": 3}], "model.layers[0].filters",
     "expected a number, not a string"),
    ("a string for an integer given to a block", [{"type": "unit", "filters": 8, "strides": "2"}],
     "model.layers[0].strides", "expected a number, not a string"),
    ("an expression's error names the key and the call",
     [{"type": "unit", "filters": 8, "id": "$nope"}], "model.layers[0].id", "unknown reference $nope"),
    ("an unknown key in a block's layer, in the tool's words",
     [{"type": "b"}], "model.blocks.b.layers[0].size", "unknown key; expected one of: "),
    ("a repeat that is not a count", [{"type": "flatten", "repeat": "$params.n - 1"}], "model.layers[0].repeat",
     "greater than or equal to 1"),
    ("when: that is not true or false", [{"type": "flatten", "when": "$params.n"}], "model.layers[0].when",
     "expected true or false"),
    ("output: outside a block", [{"type": "flatten", "output": True}], "model.layers[0].output", "for a layer of a block"),
    ("a name made by repeat's numbering clashes", [{"type": "dropout", "rate": 0.1, "name": "d1"},
     {"type": "dropout", "rate": 0.1, "name": "d", "repeat": 2}], "model.layers[1].name",
     "repeat's copy 1 is named 'd1' (the name and its number), which a layer has already"),
    ("a later name clashes with one repeat's numbering made", [{"type": "unit", "name": "x", "filters": 8, "repeat": 2},
     {"type": "unit", "name": "x1", "filters": 8}], "model.layers[1].name",
     "'x1' is already the name of repeat's copy 1 of model.layers[0] (the name and its number), received 'x1'"),
    ("a count written as a string", [{"type": "flatten", "repeat": {"count": "2"}, "when": True}],
     "model.layers[0].repeat.count", "expected a number, not a string"),
    ("repeat's form: the wrong value itself", [{"type": "flatten", "repeat": {"count": 2, "strides": "middle"},
     "when": True}], "model.layers[0].repeat.strides", "expected 'first', 'last' or 'all', received 'middle'"),
]


@pytest.mark.parametrize("layers, path, fragment", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_errors_are_one_line_at_the_call(runner, write_config, layers, path, fragment):
    blocks = {"unit": UNIT, "b": {"layers": [{"type": "dropout", "rate": 0.1, "size": 3}]}}
    config = write_config(model(layers + [{"type": "flatten"}, {"type": "dense", "units": 10}], blocks,
                                {"n": 1, "drop": 0.1}))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and line.startswith(f"Error: {config}: {path}: "), line
    assert fragment in line, line


def test_every_mistake_of_a_block_call_at_once(runner, write_config):
    blocks = {"b": {"params": {"f": None, "r": 0.5},
                    "layers": [{"type": "conv2d", "filters": "$f", "kernel_size": 0},
                               {"type": "dropout", "rate": "$r", "noise": 1}]}}
    config = write_config(model([{"type": "b", "f": 0, "r": 2, "x": 1}, {"type": "flatten"},
                                 {"type": "dense", "units": 10}], blocks))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert [line.split(": ")[2] for line in lines] == [
        "model.layers[0].x", "model.layers[0].f", "model.blocks.b.layers[0].kernel_size", "model.layers[0].r",
        "model.blocks.b.layers[1].noise"], lines


CONV_HEAD = [{"type": "conv2d", "filters": 12, "kernel_size": 3}, {"type": "global_avg_pool2d", "name": "pool"}]


def test_the_output_has_one_unit_per_class_before_tensorflow(runner, write_config):
    """The task's check, on the graph: a conv head of the wrong width, with the count stated or from the data."""
    config = write_config({"name": "h", "model": {"input_shape": [28, 28, 1], "num_classes": 10, "layers": CONV_HEAD}})
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2
    assert result.output == (f"Error: {config}: model.layers[1]: expected one output per class (the last layer, "
                             "'pool', gives 12 outputs): model.num_classes = 10, received 12\n")
    config = write_config({"name": "h", "model": {"layers": CONV_HEAD}})
    result = runner.invoke(main, ["summary", "--config", config, "--data", "data/mnist_sample.npz"])
    assert result.exit_code == 2 and "(the last layer, 'pool', gives 12 outputs): model.num_classes = 10" in result.output
    head = [{**CONV_HEAD[0], "filters": "num_classes"}, CONV_HEAD[1]]
    config = write_config({"name": "h", "model": {"layers": head}})
    result = runner.invoke(main, ["summary", "--config", config, "--data", "data/mnist_sample.npz", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["layers"][-1]["output_shape"] == [10]


def test_regression_counts_targets():
    raw = {"name": "r", "task": "regression", "model": {"input_shape": [8, 8, 1], "num_targets": 2, "layers": [
        {"type": "flatten"}, {"type": "dense", "units": 3, "activation": "linear"}]}}
    with pytest.raises(Exception, match=r"expected one output per target .*model.num_targets = 2, received 3"):
        config_from_dict(raw, "r.yaml")


def test_new_pieces_build_count_and_round_trip_in_safe_mode(tmp_path):
    """batch_norm scale/center, the new activations, channel_padding and residual's epsilon: the analysis'
    counts are Keras', and a saved model loads in safe mode through the tool's reader."""
    import keras
    import numpy as np

    from cnn_cli.model.builder import build_model
    from cnn_cli.rundir.run_reader import load_model

    layers = [
        {"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "activation": "hard_swish"},
        {"type": "batch_norm", "scale": False, "name": "bn_no_gamma"},
        {"type": "batch_norm", "scale": False, "center": False, "name": "bn_plain"},
        {"type": "activation", "activation": "hard_silu"}, {"type": "activation", "activation": "hard_sigmoid"},
        {"type": "activation", "activation": "gelu_tanh", "name": "gelu_tanh"},
        {"type": "activation", "activation": "gelu"}, {"type": "activation", "activation": "mish"},
        {"type": "channel_padding", "channels": 6, "before": 1, "name": "pad"},
        {"type": "residual", "filters": 6, "epsilon": 1.001e-5, "name": "res"},
        {"type": "global_avg_pool2d"}, {"type": "dense", "units": "num_classes", "activation": "softmax"}]
    config = config_from_dict(model(layers, shape=(8, 8, 3)), "t")
    analysis = analyze(config.model, (8, 8, 3), 10, "t")
    nodes = {node.name: node for node in analysis.graph.nodes}
    assert nodes["pad"].shape == (8, 8, 6) and nodes["res_bn1"].spec.epsilon == 1.001e-5
    keras_model = build_model(config.model, (8, 8, 3), 10)
    assert analysis.total_params == keras_model.count_params()
    assert len(keras_model.get_layer("bn_no_gamma").weights) == 3 and len(keras_model.get_layer("bn_plain").weights) == 2
    x = np.random.default_rng(0).uniform(0, 255, (2, 8, 8, 3)).astype("float32")
    padded = keras.Model(keras_model.inputs, keras_model.get_layer("pad").output)(x)
    assert np.all(np.asarray(padded)[..., 0] == 0) and np.all(np.asarray(padded)[..., 5] == 0)
    gelu = keras.Model(keras_model.inputs, [keras_model.get_layer("gelu_tanh").input,
                                            keras_model.get_layer("gelu_tanh").output])(x)
    np.testing.assert_allclose(np.asarray(gelu[1]), np.asarray(keras.activations.gelu(gelu[0], approximate=True)),
                               rtol=1e-6, atol=1e-6)
    path = tmp_path / "model.keras"
    keras_model.save(path)
    loaded = load_model(path)
    np.testing.assert_allclose(np.asarray(loaded(x)), np.asarray(keras_model(x)), rtol=1e-6, atol=1e-6)


def test_architecture_is_checked_against_the_network(runner):
    result = runner.invoke(main, ["summary", "--config", "configs/applications/resnet50.yaml",
                                  "--set", "model.architecture=densenet121", "--set", "model.preprocess=torch"])
    assert result.exit_code == 2
    assert result.output.startswith("Error: --set: model.architecture: the layers cannot be this architecture: it has "
                                    "no layer 'relu', where densenet121's backbone ends")
    result = runner.invoke(main, ["summary", "--config", "configs/applications/resnet50.yaml",
                                  "--set", "model.layers[7].filters=100"])
    assert result.exit_code == 2 and "its layers up to 'conv5_block3_out' hold" in result.output


def test_every_mistake_of_every_call_at_once(runner, write_config):
    """Mistakes in several calls, a nested call, repeat's copies and a plain layer: one line each, at the call,
    exit 2 (before TensorFlow: test_graph's test_graph_error_needs_no_tensorflow); a copy's mistake said once (with the copies when only some have it), and a mistake
    written in a block once however many calls reach it."""
    blocks = {"cbn": {"params": {"f": None, "k": 3},
                      "layers": [{"type": "conv2d", "name": "conv", "filters": "$f", "kernel_size": "$k"},
                                 {"type": "batch_norm", "name": "bn", "momentum": 2}]},
              "pair": {"params": {"g": None},
                       "layers": [{"type": "cbn", "name": "one", "f": "$g"}, {"type": "cbn", "name": "two", "f": 8}]}}
    layers = [{"type": "cbn", "name": "a", "f": -4}, {"type": "conv2d", "filters": 0, "kernel_size": 3},
              {"type": "cbn", "name": "b", "f": 8, "k": 0}, {"type": "pair", "name": "p", "g": -1},
              {"type": "cbn", "name": "r{i}", "f": "4 - 2 * $i", "repeat": 3},
              {"type": "cbn", "name": "s", "f": 0, "repeat": 2},
              {"type": "flatten"}, {"type": "dense", "units": 10}]
    config = write_config(model(layers, blocks))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2, result.output
    lines = [line.removeprefix(f"Error: {config}: ") for line in result.output.strip().splitlines()]
    assert lines == [
        "model.layers[0].f: expected a positive integer (at model.blocks.cbn.layers[0].filters), received -4",
        "model.layers[1].filters: expected a positive integer, received 0",
        "model.layers[2].k: expected a positive integer (at model.blocks.cbn.layers[0].kernel_size), received 0",
        "model.layers[3].g: expected a positive integer (at model.blocks.pair.layers[0].f -> "
        "model.blocks.cbn.layers[0].filters), received -1",
        "model.layers[4].f: expected a positive integer (at model.blocks.cbn.layers[0].filters) (in copies $i = 2, "
        "3 of 3), received 0",
        "model.layers[5].f: expected a positive integer (at model.blocks.cbn.layers[0].filters), received 0",
        "model.blocks.cbn.layers[1].momentum: expected less than 1 (in model.layers[0]), received 2",  # blocks: last
    ], lines


def test_cnn_layers_describes_the_language_with_an_example_that_works(runner):
    import yaml

    result = runner.invoke(main, ["layers", "--language"])
    assert result.exit_code == 0, result.output
    for word in ("model.blocks", "model.params", "$params.", "$i0", "$in.channels", "repeat:", "{count, start",
                 "when:", "make_divisible", "type: $kind", "output: true"):
        assert word in result.output, word
    example = yaml.safe_load(result.output[result.output.index("\nname: "):])
    nodes, _ = nodes_of(example)
    assert "s1_1_add" in nodes and "s2_1_add" not in nodes and nodes["s2_2_add"].shape == (16, 16, 32)
    assert runner.invoke(main, ["layers", "conv2d", "--language"]).exit_code == 2
