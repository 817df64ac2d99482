"""The graph language: `inputs:`, `repeat:` and `blocks:`, their names, and their errors (one line, exit 2,
the dotted path, before TensorFlow starts)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from cnn_cli.cli import main
from cnn_cli.model.analysis import analyze
from cnn_cli.resolve import config_from_dict

STAGE = {"params": {"filters": None, "strides": 1}, "layers": [
    {"type": "conv2d", "filters": "$filters", "kernel_size": 3, "strides": "$strides", "padding": "same", "name": "conv"},
    {"type": "batch_norm", "name": "bn"},
    {"type": "conv2d", "filters": "$filters", "kernel_size": 1, "strides": "$strides", "name": "short", "inputs": ["input"]},
    {"type": "add", "inputs": ["bn", "short"]},
]}


def model(layers, blocks=None, shape=(16, 16, 3)):
    section = {"input_shape": list(shape), "layers": layers}
    if "num_classes" in repr(layers):  # a graph that is not a classifier states no count (its output is checked)
        section["num_classes"] = 3
    if blocks:
        section["blocks"] = blocks
    return {"name": "g", "model": section}


def analysis_of(raw):
    config = config_from_dict(raw, "g.yaml")
    return analyze(config.model, config.model.input_shape, 3, "g.yaml")


def test_repeat_names_copies_and_strides_only_the_first():
    a = analysis_of(model([{"type": "conv2d", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same",
                            "name": "conv2_block", "repeat": 3}]))
    rows = {row.name: row.output_shape for row in a.layers}
    assert rows == {"input_scaling": (16, 16, 3), "conv2_block1": (8, 8, 4), "conv2_block2": (8, 8, 4), "conv2_block3": (8, 8, 4)}


def test_repeated_names_may_hold_the_copy_number_or_letter():
    a = analysis_of(model([{"type": "flatten", "name": "stage_{i0}_block", "repeat": 2},
                           {"type": "dropout", "rate": 0.1, "name": "block2{a}", "repeat": 3}]))
    assert [row.name for row in a.layers][1:] == ["stage_0_block", "stage_1_block", "block2a", "block2b", "block2c"]


def test_unnamed_repeat_takes_keras_names():
    a = analysis_of(model([{"type": "conv2d", "filters": 4, "kernel_size": 3, "repeat": 2}, {"type": "conv2d", "filters": 4, "kernel_size": 1}]))
    assert [row.name for row in a.layers] == ["input_scaling", "conv2d", "conv2d_1", "conv2d_2"]


def test_block_with_params_repeat_and_a_skip():
    a = analysis_of(model([{"type": "stage", "filters": 8, "strides": 2, "repeat": 2, "name": "s"},
                           {"type": "global_avg_pool2d"}, {"type": "dense", "units": "num_classes"}], {"stage": STAGE}))
    s1, s2 = a.layers[1], a.layers[2]
    assert (s1.name, s1.type, s1.output_shape) == ("s1", "stage", (8, 8, 8))
    assert [c.name for c in s1.children] == ["s1_conv", "s1_bn", "s1_short", "s1_add"]
    assert s1.children[2].output_shape == (8, 8, 8)  # the first copy strides its shortcut too
    assert s2.output_shape == (8, 8, 8) and s2.children[0].params == 3 * 3 * 8 * 8 + 8
    assert a.graph.nodes[-2].inputs == ["s2_add"]


def test_summary_shows_block_rows_with_children(runner, write_config):
    config = write_config(model([{"type": "stage", "filters": 4}, {"type": "flatten"}, {"type": "dense", "units": 3}], {"stage": STAGE}))
    result = runner.invoke(main, ["summary", "--config", config, "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    block = report["layers"][1]
    assert (block["name"], block["type"]) == ("stage", "stage")
    assert block["params"] == sum(child["params"] for child in block["layers"]) == (27 * 4 + 4) + 16 + (3 * 4 + 4)


def test_inputs_build_a_dag_that_keras_agrees_with():
    from cnn_cli.model.builder import build_model

    raw = model([{"type": "conv2d", "filters": 4, "kernel_size": 3, "padding": "same", "name": "a"},
                 {"type": "conv2d", "filters": 4, "kernel_size": 5, "padding": "same", "name": "b", "inputs": ["input"]},
                 {"type": "concatenate", "inputs": ["a", "b", "input"]},
                 {"type": "flatten"}, {"type": "dense", "units": 3}])
    config = config_from_dict(raw, "g.yaml")
    keras_model = build_model(config.model, (16, 16, 3), 3, "g.yaml")
    assert keras_model.get_layer("concatenate").output.shape[1:] == (16, 16, 11)
    assert analysis_of(raw).total_params == keras_model.count_params()


ERRORS = [
    ("unknown input", [{"type": "conv2d", "filters": 2, "kernel_size": 1, "inputs": ["nope"]}], None,
     "model.layers[0].inputs[0]", "unknown input name"),
    ("forward reference", [{"type": "add", "inputs": ["input", "later"]}, {"type": "flatten", "name": "later"}], None,
     "model.layers[0].inputs[1]", "comes later"),
    ("cycle on itself", [{"type": "add", "name": "x", "inputs": ["input", "x"]}], None, "model.layers[0].inputs[1]", "comes later"),
    ("add of different shapes", [{"type": "conv2d", "filters": 2, "kernel_size": 1, "name": "a"},
                                 {"type": "add", "inputs": ["a", "input"]}], None, "model.layers[1]", "add: inputs of one shape"),
    ("concatenate of different sizes", [{"type": "max_pool2d", "name": "p"}, {"type": "concatenate", "inputs": ["p", "input"]}],
     None, "model.layers[1]", "concatenate: inputs of the same size but for the channels"),
    ("add of one input", [{"type": "add"}], None, "model.layers[0]", "two or more layers"),
    ("repeat 0", [{"type": "flatten", "repeat": 0}], None, "model.layers[0].repeat", "greater than or equal to 1"),
    ("block parameter missing", [{"type": "stage"}], {"stage": STAGE}, "model.layers[0]", "needs the parameter 'filters'"),
    ("block parameter unknown", [{"type": "stage", "filters": 2, "width": 3}], {"stage": STAGE}, "model.layers[0].width",
     "unknown parameter of block 'stage'"),
    ("unknown type", [{"type": "stag", "filters": 2}], {"stage": STAGE}, "model.layers[0].type", "unknown layer type"),
    ("unknown $param in a block", [{"type": "b"}], {"b": {"layers": [{"type": "dropout", "rate": "$r"}]}},
     "model.blocks.b.layers[0].rate", "unknown reference $r"),
    ("bad value inside a block", [{"type": "b", "r": 2}], {"b": {"params": {"r": 0.5}, "layers": [{"type": "dropout", "rate": "$r"}]}},
     "model.layers[0].r", "less than 1 (at model.blocks.b.layers[0].rate)"),
    ("block using itself", [{"type": "b"}], {"b": {"layers": [{"type": "b"}]}}, "model.blocks.b.layers[0].type", "uses itself"),
    ("block call with a bad name", [{"type": "stage", "filters": 2, "name": "a b"}], {"stage": STAGE}, "model.layers[0].name",
     "letters, digits"),
    ("shape error inside a block", [{"type": "flatten"}, {"type": "residual", "filters": 2, "strides": 2}], None, "model.layers[1]",
     "residual: residual expects a 3-D"),
    ("shape error of a layer inside a composite", [{"type": "flatten"}, {"type": "inception", "filters_1x1": 1, "filters_3x3_reduce": 1,
     "filters_3x3": 1, "filters_5x5_reduce": 1, "filters_5x5": 1, "filters_pool_proj": 1}], None, "model.layers[1]",
     "inception: inception_1x1 (conv2d): conv2d expects a 3-D"),
    ("unused branch", [{"type": "conv2d", "filters": 2, "kernel_size": 1, "name": "lost"},
                       {"type": "flatten", "inputs": ["input"]}], None, "model.layers[0]", "is not used"),
]


@pytest.mark.parametrize("layers,blocks,path,fragment", [e[1:] for e in ERRORS], ids=[e[0] for e in ERRORS])
def test_graph_errors_are_one_line_with_the_path(runner, write_config, layers, blocks, path, fragment):
    config = write_config(model(layers, blocks))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2, result.output
    line = result.output.strip()
    assert "\n" not in line and line.startswith(f"Error: {config}: {path}: "), line
    assert fragment in line


def test_graph_errors_are_found_before_the_data_gives_the_shape():
    from cnn_cli.errors import ConfigError

    raw = model([{"type": "add", "inputs": ["input", "nope"]}])
    del raw["model"]["input_shape"]
    with pytest.raises(ConfigError, match=r"model.layers\[0\].inputs\[1\]: unknown input name"):
        config_from_dict(raw, "g.yaml")
    raw = model([{"type": "conv2d", "filters": 2, "kernel_size": 500}, {"type": "flatten"}])  # a shape error waits
    del raw["model"]["input_shape"]
    assert config_from_dict(raw, "g.yaml").model.input_shape is None


def test_graph_error_needs_no_tensorflow(write_config):
    config = write_config(model([{"type": "add", "inputs": ["input", "nope"]}]))
    code = (
        "import sys; from click.testing import CliRunner; from cnn_cli.cli import main; "
        f"r = CliRunner().invoke(main, ['summary', '--config', {config!r}]); "
        "print(r.exit_code, 'tensorflow' in sys.modules, 'keras' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "False", "False"]


def test_registry_imports_no_keras():
    code = ("import sys; from cnn_cli.layers import registry; registry.kinds(); "
            "import cnn_cli.config, cnn_cli.model.analysis, cnn_cli.model.file_safety; "
            "print(len(registry.names()) > 20, 'keras' in sys.modules, 'tensorflow' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["True", "False", "False"]
