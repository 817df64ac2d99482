"""A catalogue of bad configs, each through the real CLI: exit code 2, one line naming the file and the
dotted key path, no traceback."""

from __future__ import annotations

import copy

import pytest
import yaml

from cnn_cli.cli import main
from tests.conftest import load_config_dict

BASE = load_config_dict("mnist")


def mutate(change):
    config = copy.deepcopy(BASE)
    change(config)
    return yaml.safe_dump(config, sort_keys=False)


def layer(index, **values):
    return lambda c: c["model"]["layers"][index].update(values)


def insert(index, item):
    return lambda c: c["model"]["layers"].insert(index, item)


CASES = [
    # (case id, config text, dotted path expected in the message, another fragment expected)
    ("unknown top-level key", mutate(lambda c: c.update(foo=1)), ": foo: unknown key", "expected one of: name, seed, model"),
    ("negative filters", mutate(layer(2, filters=-32)), "model.layers[2].filters", "expected a positive integer, received -32"),
    ("unknown layer type", mutate(layer(0, type="conv")), "model.layers[0].type", "expected one of: activation, add, avg_pool2d"),
    ("unknown layer key", mutate(layer(0, filter=3)), "model.layers[0].filter", "unknown key; expected one of"),
    ("bad padding", mutate(layer(0, padding="full")), "model.layers[0].padding", "expected 'same' or 'valid', received 'full'"),
    ("kernel size not a number", mutate(layer(0, kernel_size="big")), "model.layers[0].kernel_size", "received 'big'"),
    ("kernel size of three", mutate(layer(0, kernel_size=[3, 3, 3])), "model.layers[0].kernel_size", "at most 2 items"),
    ("zero strides", mutate(layer(0, strides=0)), "model.layers[0].strides", "received 0"),
    ("pools shrink to nothing", mutate(lambda c: c["model"].update(layers=[{"type": "max_pool2d", "pool_size": 2}] * 5 + [{"type": "flatten"}, {"type": "dense", "units": 10}])), "model.layers[4]", "input of 1x1"),
    ("valid conv larger than input", mutate(layer(4, kernel_size=9, padding="valid")), "model.layers[4]", "needs an input of at least 9x9"),
    ("conv after flatten", mutate(insert(7, {"type": "conv2d", "filters": 3, "kernel_size": 3})), "model.layers[7]", "3-D (height, width, channels) input"),
    ("global pool after flatten", mutate(insert(7, {"type": "global_max_pool2d"})), "model.layers[7]", "3-D"),
    ("dropout rate above 1", mutate(insert(7, {"type": "dropout", "rate": 1.5})), "model.layers[7].rate", "received 1.5"),
    ("dropout without rate", mutate(insert(7, {"type": "dropout"})), "model.layers[7].rate", "required key is missing"),
    ("layer without type", mutate(lambda c: c["model"]["layers"][0].pop("type")), "model.layers[0].type", "required key is missing"),
    ("no model section", mutate(lambda c: c.pop("model")), ": model: required key is missing", ""),
    ("no layers", mutate(lambda c: c["model"].update(layers=[])), "model.layers", "at least 1 item"),
    ("unknown optimizer", mutate(lambda c: c["train"].update(optimizer="adamm")), "train.optimizer", "received 'adamm'"),
    ("negative learning rate", mutate(lambda c: c["train"].update(optimizer={"name": "adam", "learning_rate": -1})), "train.optimizer.learning_rate", "expected a positive number"),
    ("epochs not a number", mutate(lambda c: c["train"].update(epochs="many")), "train.epochs", "expected an integer, received 'many'"),
    ("unknown loss", mutate(lambda c: c["train"].update(loss="mse")), "train.loss", "received 'mse'"),
    ("classes disagree with last layer", mutate(lambda c: (c["model"].update(num_classes=5), c["model"]["layers"][8].update(units=10))), "model.layers[8].units", "model.num_classes = 5, received 10"),
    ("input shape of two dims", mutate(lambda c: c["model"].update(input_shape=[28, 28])), "model.input_shape", "received [28, 28]"),
    ("unknown data source", mutate(lambda c: c["data"].update(source="imagenet")), "data.source", "received 'imagenet'"),
    ("validation split above 1", mutate(lambda c: c["data"].update(validation_split=1.5)), "data.validation_split", "received 1.5"),
    ("unknown activation", mutate(layer(0, activation="rellu")), "model.layers[0].activation", "received 'rellu'"),
    ("monitoring validation without one", mutate(lambda c: c["train"]["callbacks"]["checkpoint"].update(monitor="val_loss")), "train.callbacks.checkpoint.monitor", "no validation set"),
    ("name with a space", mutate(lambda c: c.update(name="my model")), ": name:", "received 'my model'"),
    ("two layers with one name", mutate(lambda c: [item.update(name="x") for item in c["model"]["layers"][:2]]), "model.layers[1].name", "model.layers[0] has it"),
    ("residual of zero filters", mutate(insert(1, {"type": "residual", "filters": 0})), "model.layers[1].filters", "positive integer"),
    ("residual momentum of 1", mutate(insert(1, {"type": "residual", "filters": 4, "momentum": 1})), "model.layers[1].momentum", "less than 1"),
    ("inception missing a branch", mutate(insert(1, {"type": "inception", "filters_1x1": 8, "filters_3x3_reduce": 8, "filters_3x3": 8, "filters_5x5_reduce": 8, "filters_5x5": 8})), "model.layers[1].filters_pool_proj", "required key is missing"),
    ("batch size zero", mutate(lambda c: c["train"].update(batch_size=0)), "train.batch_size", "received 0"),
    ("seed negative", mutate(lambda c: c.update(seed=-1)), ": seed:", "received -1"),
    ("unknown precision", mutate(lambda c: c["train"].update(precision="float8")), "train.precision", "received 'float8'"),
    ("early stopping negative patience", mutate(lambda c: c["train"]["callbacks"].update(early_stopping={"monitor": "loss", "patience": -1})), "train.callbacks.early_stopping.patience", "received -1"),
    ("duplicate key", "name: a\nname: b\n", "duplicate key 'name'", "line 2"),
    ("not a mapping", "- 1\n- 2\n", "expected a mapping", "received [1, 2]"),
    ("empty file", "", "expected a mapping", "received None"),
    ("broken YAML", "name: [a\n", "invalid YAML", "line 2"),
]


@pytest.mark.parametrize("text,path,fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_config_is_one_line_exit_2(runner, write_config, text, path, fragment):
    config = write_config(text)
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    assert lines[0].startswith(f"Error: {config}: ")
    assert path in lines[0]
    assert fragment in lines[0]
    assert "Traceback" not in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_python_tags_construct_nothing(runner, write_config, tmp_path):
    marker = tmp_path / "pwned"
    config = write_config(f"name: !!python/object/apply:os.system ['touch {marker}']\n")
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.exit_code == 2
    assert "Python object tags are not allowed" in result.output
    assert not marker.exists()


def test_missing_config_file(runner, tmp_path):
    result = runner.invoke(main, ["summary", "--config", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert result.output.strip() == f"Error: {tmp_path / 'nope.yaml'}: no such file"


def test_bad_set_override_names_the_key(runner):
    result = runner.invoke(main, ["summary", "--config", "configs/mnist.yaml", "--set", "model.layers=3"])
    assert result.exit_code == 2
    assert result.output == "Error: --set: model.layers: expected a list, received 3\n"


def test_a_shape_given_with_set_that_the_data_contradicts_names_the_set(runner, tmp_path):
    """model.input_shape is checked against the data only once it is read: still the --set's, in train too (no
    run directory made)."""
    run_dir = tmp_path / "run"
    result = runner.invoke(main, ["train", "--config", "configs/mnist.yaml", "--data", "data/mnist_sample.npz",
                                  "--set", "model.input_shape=[32,32,3]", "--run-dir", str(run_dir)])
    assert result.exit_code == 2, result.output
    assert result.output.strip().splitlines()[-1] == (
        "Error: --set: model.input_shape: expected the shape of the data's images, [28, 28, 1] (--set "
        "model.input_shape=null to take the data's shape, or --set data.image_shape=\"[32, 32, 3]\" to resize a "
        "folder's or manifest's images to the model's), received [32, 32, 3]")
    assert not run_dir.exists()


@pytest.mark.parametrize("override,expected", [
    ("train.optimizer.lr=0.1", "Error: --set: train.optimizer.lr: unknown key; expected one of: name, learning_rate,"),
    ("train.optimizer.learning_rate=-1", "Error: --set: train.optimizer.learning_rate: expected a positive number or 'auto', received -1"),
    ("model.layers[0].filters=0", "Error: --set: model.layers[0].filters: expected a positive integer, received 0"),
    ("model.layers[0].strides=[1, 0]", "Error: --set: model.layers[0].strides[1]: expected a positive integer, received 0"),
    ("model.layers[0].activation=leakyrelu", "Error: --set: model.layers[0].activation: expected 'relu', 'relu6'"),
    ("model.layers[9].activation=relu", "Error: --set: model.layers[9]: index out of range: model.layers has 9 items"),
    ("model.layers.activation=elu", "Error: --set: model.layers: is a list; name one of its items, as in model.layers[0].activation"),
    ("train.loss[0]=x", "Error: --set: train.loss[0]: cannot index: not a list, received"),
    ("train.schedule[0]=x", "Error: --set: train.schedule[0]: cannot index: there is no list there"),
    ("model.layers[0]x=1", "Error: --set: model.layers[0]x=1: expected key.path=value"),
    ("train.optimizer=adamm", "Error: --set: train.optimizer: expected 'adam', 'adamw'"),
    ("name=[a", "Error: --set name: invalid YAML"),
])
def test_set_errors_blame_the_flag_and_key(runner, override, expected):
    result = runner.invoke(main, ["summary", "--config", "configs/mnist.yaml", "--set", override])
    assert result.exit_code == 2, result.output
    assert result.output.startswith(expected), result.output
    assert len(result.output.strip().splitlines()) == 1


def test_file_error_under_a_set_elsewhere_blames_the_file(runner, write_config):
    config = write_config(mutate(layer(0, strides=[1, 0])))
    result = runner.invoke(main, ["summary", "--config", config, "--set", "model.layers[1].pool_size=3"])
    assert result.output == f"Error: {config}: model.layers[0].strides[1]: expected a positive integer, received 0\n"


def test_set_reaches_layers_and_block_parameters():
    from cnn_cli.resolve import load_config

    config = load_config("configs/mnist.yaml", ["model.layers[0].activation=elu", "model.layers[2].filters=16"])
    assert (config.model.layers[0].activation, config.model.layers[2].filters) == ("elu", 16)
    config = load_config("configs/inception_resnet.yaml", ["model.layers[4].filters_5x5=12"])
    assert config.model.layers[4].type == "inception" and config.model.layers[4].filters_5x5 == 12
    config = load_config("configs/mnist.yaml", ["model.layers[7]={type: dense, units: 32, activation: tanh}"])
    assert (config.model.layers[7].units, config.model.layers[7].activation) == (32, "tanh")


@pytest.mark.parametrize("strides,path,fragment", [
    ([1, 0], "model.layers[0].strides[1]", "expected a positive integer, received 0"),
    ([0, 1], "model.layers[0].strides[0]", "expected a positive integer, received 0"),
    (["a", 1], "model.layers[0].strides[0]", "expected an integer, received 'a'"),
    (-2, "model.layers[0].strides", "expected a positive integer, received -2"),
    ("x", "model.layers[0].strides", "expected an integer, received 'x'"),
])
def test_union_errors_name_the_exact_item(runner, write_config, strides, path, fragment):
    config = write_config(mutate(layer(0, strides=strides)))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.output == f"Error: {config}: {path}: {fragment}\n"


def test_config_error_is_fast_and_needs_no_tensorflow(write_config):
    import subprocess
    import sys
    import time

    config = write_config(mutate(layer(2, filters=-32)))
    code = (
        "import sys; from click.testing import CliRunner; from cnn_cli.cli import main; "
        f"r = CliRunner().invoke(main, ['summary', '--config', {config!r}]); "
        "print(r.exit_code, 'tensorflow' in sys.modules)"
    )
    start = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["2", "False"]
    assert time.perf_counter() - start < 10  # generous: the point is that TensorFlow was never imported


@pytest.mark.parametrize("loc,path,schema_type", [
    (("model", "layers", 0, "conv2d", "strides", "tuple[constrained-int, constrained-int]", 1),
     ["model", "layers", 0, "strides", 1], "int"),
    (("model", "layers", 0, "conv2d", "strides", "constrained-int"), ["model", "layers", 0, "strides"], "int"),
    (("model", "layers", 3, "dense", "units", "literal['num_classes','num_targets']"), ["model", "layers", 3, "units"], "literal"),
    (("model", "input_shape", 2), ["model", "input_shape", 2], "int"),
    (("train", "optimizer", "learning_rate", "constrained-float"), ["train", "optimizer", "learning_rate"], "float"),
    (("train", "optimizer", "momentum"), ["train", "optimizer", "momentum"], "float"),
    (("train", "callbacks", "early_stopping", "patience"), ["train", "callbacks", "early_stopping", "patience"], "int"),
])
def test_locations_follow_pydantics_schema(loc, path, schema_type):
    """The walk through pydantic's core schema drops exactly the union steps: a pydantic that changed the
    layout of its core schema or the names in `loc` fails here, not in a user's error message."""
    from cnn_cli.config.key_paths import locate

    where = locate(loc)
    assert where.path == path
    assert where.schema is not None and where.schema["type"] == schema_type


def test_unknown_key_lists_the_keys_of_its_own_layer_kind(runner, write_config):
    config = write_config(mutate(layer(1, units=3)))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.output == (f"Error: {config}: model.layers[1].units: unknown key; expected one of: "
                             "name, inputs, repeat, pool_size, strides, padding, type, received 3\n")


@pytest.mark.parametrize("units,fragment", [
    ("x", "expected an integer or 'num_classes' or 'num_targets', received 'x'"),
    (-3, "expected a positive integer or 'num_classes' or 'num_targets', received -3"),
])
def test_a_value_neither_union_member_takes_names_both(runner, write_config, units, fragment):
    config = write_config(mutate(layer(8, units=units)))
    result = runner.invoke(main, ["summary", "--config", config])
    assert result.output == f"Error: {config}: model.layers[8].units: {fragment}\n"


def test_a_flag_given_as_an_override_is_named_in_its_errors():
    from cnn_cli.config.overrides import Override
    from cnn_cli.errors import ConfigError
    from cnn_cli.resolve import load_config

    assert load_config("configs/mnist.yaml", [Override(("train", "epochs"), 3, "--epochs")]).train.epochs == 3
    with pytest.raises(ConfigError) as caught:
        load_config("configs/mnist.yaml", ["train.epochs=2", Override(("train", "epochs"), 0, "--epochs")])
    assert caught.value.message == "--epochs: train.epochs: expected a positive integer, received 0"
