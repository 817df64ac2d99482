"""Options shared by several commands."""

from __future__ import annotations

import json

import click

from cnn_cli.backends import select
from cnn_cli.data.cache import ENV

config_option = click.option(
    "--config", "config_path", type=click.Path(dir_okay=False), help="The YAML config file.",
)
data_option = click.option(
    "--data", "data_path", type=click.Path(), default=None,
    help="A data file or folder that replaces the config's data source (.npz, .csv, image folder, IDX folder).",
)
subset_option = click.option(
    "--subset", type=click.IntRange(min=1), default=None, help="Use only the first N examples of each split.",
)
set_option = click.option(
    "--set", "overrides", multiple=True, metavar="KEY.PATH=VALUE",
    help="Override a config key by its path, as error messages write it: train.optimizer.learning_rate=1e-4, "
         "model.layers[0].activation=elu (value read as YAML); repeatable.",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")


def _select_backend(ctx, param, value):
    """Sets KERAS_BACKEND before Keras is first imported (commands import Keras only when they run)."""
    if value is not None:
        select(value)
    return value


backend_option = click.option(
    "--backend", type=click.Choice(["tensorflow", "jax", "torch"]), default=None, expose_value=False,
    callback=_select_backend,
    help="Keras' backend: tensorflow, jax or torch (default: KERAS_BACKEND, else Keras' keras.json, else "
         "tensorflow). Its framework must be installed: pip install 'cnn-cli[jax]'.",
)


def echo_report(report, as_json: bool) -> None:
    """Prints a report (an object with `to_dict()` and `to_text()`) as tables, or as one JSON object with --json."""
    click.echo(json.dumps(report.to_dict(), indent=2) if as_json else report.to_text())


def _set_cache_dir(ctx, param, value):
    if value is not None:
        import os


        os.environ[ENV] = value  # read by cnn_cli.data.cache.cache_root, in this process and the ones it starts
    return value


cache_dir_option = click.option(
    "--cache-dir", type=click.Path(file_okay=False), default=None, expose_value=False, callback=_set_cache_dir,
    is_eager=True, help="Folder of the decoded-image cache (default: CNN_CACHE_DIR, else ~/.cache/cnn).",
)
