"""`cnn lr-find`: the learning-rate range test on a config's model and data, and the rate it suggests."""

from __future__ import annotations

import json
from pathlib import Path

import click

from cnn_cli.backends import require
from cnn_cli.commands.options import (
    backend_option,
    cache_dir_option,
    config_option,
    data_option,
    set_option,
    subset_option,
)
from cnn_cli.errors import CnnError
from cnn_cli.reports.lr_find_plot import plot_range_test
from cnn_cli.training.lr_find_run import LrFindOptions, find


@click.command("lr-find")
@backend_option
@cache_dir_option
@config_option
@data_option
@set_option
@subset_option
@click.option("--seed", type=click.IntRange(min=0), default=None, help="The seed (default: the config's, else random).")
@click.option("--steps", type=click.IntRange(min=20, max=10000), default=200, show_default=True,
              help="Steps of the test (one batch each), the rate rising exponentially from --start to --end.")
@click.option("--start", type=click.FloatRange(min=0, min_open=True), default=1e-7, show_default=True,
              help="The first step's learning rate.")
@click.option("--end", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True,
              help="The last step's learning rate (the test stops earlier where the loss diverges).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False), default=None,
              help="Draw the smoothed loss against the rate to this PNG file.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object: suggested_learning_rate, min_loss_learning_rate and curve "
                   "(a list of {learning_rate, loss}).")
def command(config_path, data_path, overrides, subset, seed, steps, start, end, output, as_json):
    """Find a learning rate: train the config's model one batch at a time while the rate rises exponentially
    from 1e-7 until the loss diverges, and suggest the rate where the smoothed loss falls fastest (the
    minimum's rate / 10 is shown beside it). The model's weights are left as they were; nothing is written but
    the chart of -o. `train.optimizer.learning_rate: auto` runs the same test before `cnn train` trains.

    \b
    Examples:
      cnn lr-find --config configs/mnist.yaml -o lr.png
      cnn lr-find --config configs/fashion_mnist.yaml --subset 2000 --json
    """
    if output is not None and not output.lower().endswith(".png"):
        raise CnnError(f"-o {output}: expected a .png file name")
    if output is not None and not Path(output).resolve().parent.is_dir():
        raise CnnError(f"-o {output}: no such folder: {Path(output).parent}")
    require()
    test = find(LrFindOptions(config_path=config_path, overrides=overrides, data_path=data_path, subset=subset,
                              seed=seed, steps=steps, start=start, end=end),
                echo=lambda line: click.echo(line, err=True))
    if output is not None:
        try:
            plot_range_test(test, output)
        except OSError as exc:
            raise CnnError(f"{output}: cannot write: {exc.strerror or exc}") from None
    if as_json:
        click.echo(json.dumps(test.to_dict(), indent=2))
    else:
        click.echo(test.to_text())
        if output is not None:
            click.echo(f"Wrote {output}")
