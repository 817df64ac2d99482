"""The registry of layer kinds: found without a list, one file adds a kind everywhere, `cnn layers`
prints the vocabulary, and the safe-mode allow-list comes from it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys
import textwrap

import cnn_cli.layers as package
from cnn_cli.cli import main
from cnn_cli.layers import registry
from cnn_cli.layers.base import LayerSpec

TODAY = {"conv2d", "max_pool2d", "avg_pool2d", "min_pool2d", "global_max_pool2d", "global_avg_pool2d", "batch_norm",
         "dropout", "flatten", "dense", "activation", "inception", "residual"}
NEW = {"depthwise_conv2d", "separable_conv2d", "zero_padding2d", "rescaling", "normalization", "layer_normalization",
       "spatial_dropout2d", "reshape", "add", "multiply", "concatenate", "stochastic_depth"}


def test_every_module_gives_kinds_with_a_manual_and_a_keras_name():
    kinds = registry.kinds()
    assert TODAY | NEW <= set(kinds)
    modules = {info.name for info in pkgutil.iter_modules(package.__path__)} - registry.NOT_KINDS
    assert modules == {kind.__module__.rsplit(".", 1)[1] for kind in kinds.values()}
    for name, kind in kinds.items():
        assert kind.type_name() == name and issubclass(kind, LayerSpec)
        assert kind.__doc__ and kind.__doc__.strip(), name
        assert kind.keras_name != "layer", name


def test_allow_list_knows_the_tools_own_layers():
    from cnn_cli.model import file_safety as safety

    assert {"cnn>MinPooling2D", "cnn>StochasticDepth"} <= registry.custom_objects() <= safety.OWN_REGISTERED
    # a schedule and multilabel's weighted loss, not layers
    assert safety.OWN_REGISTERED - registry.custom_objects() == {"cnn>OneCycle", "cnn>WeightedBinaryCrossentropy"}
    assert safety.find_unsafe({"class_name": "StochasticDepth", "module": "cnn_cli.layers.custom.stochastic_depth",
                               "registered_name": "cnn>StochasticDepth"}) is None
    assert safety.find_unsafe({"class_name": "X", "module": "cnn_cli.layers.custom.x", "registered_name": "cnn>X"})
    assert safety.find_unsafe({"class_name": "MinPooling2D", "module": "cnn_cli.model.min_pooling",  # older runs
                               "registered_name": "cnn>MinPooling2D"}) is None


def test_cnn_layers_lists_every_kind(runner):
    result = runner.invoke(main, ["layers"])
    assert result.exit_code == 0, result.output
    listed = {line.split()[0] for line in result.output.splitlines()[:-2] if line.strip()}
    assert listed == set(registry.names())


def test_cnn_layers_type_shows_arguments_defaults_and_manual(runner):
    result = runner.invoke(main, ["layers", "conv2d"])
    assert result.exit_code == 0, result.output
    assert "dilation_rate: integer (>0) | [integer (>0), integer (>0)], default 1." in result.output
    assert "filters: integer (>0), required." in result.output
    assert "MACs: out_h*out_w*filters*kh*kw*(C/groups)" in result.output
    data = json.loads(runner.invoke(main, ["layers", "depthwise_conv2d", "--json"]).output)
    assert data["type"] == "depthwise_conv2d" and data["block"] is False
    assert {"name": "depth_multiplier", "type": "integer (>0)", "required": False, "default": 1, "description": "Output channels per input channel of the depthwise step."} in data["arguments"]
    everything = json.loads(runner.invoke(main, ["layers", "--json"]).output)
    assert {item["type"] for item in everything if item["block"]} >= {"inception", "residual"}


def test_cnn_layers_unknown_type_is_one_line(runner):
    result = runner.invoke(main, ["layers", "conv3d"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: cnn layers: unknown layer type 'conv3d'; expected one of: {', '.join(registry.names())}"]


def test_one_new_file_adds_a_kind_to_config_analysis_and_schema(tmp_path):
    (tmp_path / "double_channels.py").write_text(textwrap.dedent('''
        """`double_channels`: a test kind."""
        from typing import Literal
        from cnn_cli.layers.base import LayerSpec, single

        class DoubleChannels(LayerSpec):
            """Concatenates its input with itself."""
            keras_name = "double_channels"
            type: Literal["double_channels"]

            def output_shape(self, inputs):
                h, w, c = single(self.type, inputs)
                return (h, w, 2 * c)
    '''))
    code = (
        f"import cnn_cli.layers as p; p.__path__.append({str(tmp_path)!r}); "
        "from cnn_cli.resolve import config_from_dict; from cnn_cli.model.analysis import analyze; "
        "from cnn_cli.commands.schema import config_schema; "
        "c = config_from_dict({'name': 'x', 'model': {'input_shape': [4, 4, 3], 'layers': [{'type': 'double_channels'}]}}, 'x'); "
        "print(analyze(c.model, (4, 4, 3), None, 'x').output_shape, 'DoubleChannels' in config_schema()['$defs'])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["(4,", "4,", "6)", "True"]
