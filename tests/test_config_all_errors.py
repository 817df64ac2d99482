"""Every mistake of a config at once: one line each, in file order, capped at 20, through `cnn summary`."""

from __future__ import annotations

from cnn_cli.cli import main

BAD = """\
name: t
model:
  layers:
    - {type: conv2d, filters: -3, kernel_size: 3}
    - {type: flatten, bogus: 1}
    - {type: dense, units: num_classes}
data:
  source: folder
  path: x
  image_shape: [32, 32]
train:
  epochs: 0
  optimizer: {name: adam, learning_rate: -1}
"""


def _errors(runner, args):
    result = runner.invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return result.output.strip().splitlines()


def test_every_type_and_range_error_in_file_order(runner, write_config):
    path = write_config(BAD)
    assert _errors(runner, ["summary", "--config", path]) == [
        f"Error: {path}: model.layers[0].filters: expected a positive integer, received -3",
        f"Error: {path}: model.layers[1].bogus: unknown key; expected one of: name, inputs, repeat, type, received 1",
        f"Error: {path}: data.image_shape: expected 3 items, received [32, 32]",
        f"Error: {path}: train.epochs: expected a positive integer, received 0",  # before optimizer, as written
        f"Error: {path}: train.optimizer.learning_rate: expected a positive number or 'auto', received -1",
    ]


def test_an_override_is_blamed_for_its_own_error_only(runner, write_config):
    path = write_config(BAD)
    lines = _errors(runner, ["summary", "--config", path, "--set", "train.epochs=-5"])
    assert "Error: --set: train.epochs: expected a positive integer, received -5" in lines
    assert f"Error: {path}: model.layers[0].filters: expected a positive integer, received -3" in lines
    assert len(lines) == 5


def test_cross_field_errors_together(runner, write_config):
    path = write_config("""\
name: t
model:
  layers:
    - {type: conv2d, name: a, filters: 4, kernel_size: 3}
    - {type: conv2d, name: a, filters: 4, kernel_size: 3}
    - {type: flatten}
    - {type: dense, units: num_classes}
data:
  source: mnist
  validation_split: 0
  test_split: 0
train:
  callbacks:
    checkpoint: {monitor: val_loss}
""")
    assert _errors(runner, ["summary", "--config", path]) == [
        f"Error: {path}: model.layers[1].name: expected a name not used before (model.layers[0] has it), received 'a'",
        f"Error: {path}: train.callbacks.checkpoint.monitor: expected a training metric (loss, accuracy): there is no "
        "validation set (data.validation is not given and data.validation_split is 0), received 'val_loss'",
    ]


def test_the_list_is_capped_at_20(runner, write_config):
    layers = "\n".join(f"    - {{type: conv2d, filters: -{i + 1}, kernel_size: 3}}" for i in range(25))
    path = write_config(f"name: t\nmodel:\n  layers:\n{layers}\n    - {{type: dense, units: 2}}\n")
    lines = _errors(runner, ["summary", "--config", path])
    assert len(lines) == 21
    assert lines[0] == f"Error: {path}: model.layers[0].filters: expected a positive integer, received -1"
    assert lines[19] == f"Error: {path}: model.layers[19].filters: expected a positive integer, received -20"
    assert lines[20] == f"Error: {path}: and 5 more errors"
