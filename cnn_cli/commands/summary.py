"""`cnn summary`: a model's layers, shapes, parameters and costs, before (or after) training."""

from __future__ import annotations

from pathlib import Path

import click

from cnn_cli.commands.options import backend_option, data_option, echo_report, json_option, set_option
from cnn_cli.reports.summary import summarize
from cnn_cli.resolve.model_checks import model_graph
from cnn_cli.resolve.model_inputs import config_for, resolve_model_inputs


@click.command("summary")
@backend_option
@click.argument("run_dir", required=False, type=click.Path(file_okay=False))
@click.option("--config", "config_path", type=click.Path(dir_okay=False), help="The YAML config file.")
@data_option
@set_option
@click.option("--batch-size", type=click.IntRange(min=1), default=None, help="Batch size for activation memory. Defaults to train.batch_size.")
@json_option
@click.option("--plot", "plot_path", type=click.Path(dir_okay=False), default=None, help="Draw the model graph with shapes to FILE.png (needs pydot and graphviz).")
def command(run_dir, config_path, data_path, overrides, batch_size, as_json, plot_path):
    """Show a model's layers, output shapes, parameters, MACs and activation memory.

    \b
    Examples:
      cnn summary --config configs/mnist.yaml
      cnn summary --config configs/sign_language.yaml --data data/sign_layout_sample/train.csv
      cnn summary --config configs/fashion_mnist.yaml --json
      cnn summary runs/mnist-20260101-120000
    """

    config, source = config_for(run_dir, config_path, overrides, data_path)
    input_shape, num_classes = resolve_model_inputs(config, source, data_path)
    analysis = model_graph(config, input_shape, num_classes)  # its errors name the --set that gave the value
    report = summarize(config, input_shape, num_classes, source, batch_size=batch_size, plot_path=plot_path,
                       analysis=analysis)
    echo_report(report, as_json)
    if plot_path:
        click.echo(f"Model graph written to {Path(plot_path)}", err=as_json)
