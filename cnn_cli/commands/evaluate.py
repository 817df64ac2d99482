"""`cnn evaluate`: a trained run's loss, accuracy, per-class metrics and confusion matrix on its test split."""

from __future__ import annotations

import json

import click

from cnn_cli.commands.options import data_option, json_option, subset_option


@click.command("evaluate")
@click.argument("run_dir", type=click.Path())
@data_option
@subset_option
@json_option
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Batch size of the evaluation (larger is faster; it does not change the results).")
def command(run_dir, data_path, subset, as_json, batch_size):
    """Evaluate a trained run on the test split of the data it was trained on (or of --data PATH).

    Without a test split, the validation split is used (the output says which). Prints loss, accuracy,
    per-class precision/recall/F1/support, the confusion matrix and the most confused pairs; writes
    RUN_DIR/evaluation.json and RUN_DIR/confusion_matrix.png.

    \b
    Examples:
      cnn evaluate runs/mnist-20260101-120000
      cnn evaluate runs/mnist-20260101-120000 --data data/mnist_sample.npz --json
    """
    from cnn_cli.evaluation import evaluate_run

    evaluation = evaluate_run(run_dir, data_path=data_path, subset=subset, batch_size=batch_size)
    if as_json:
        click.echo(json.dumps(evaluation.to_dict(), indent=2))
    else:
        click.echo(evaluation.to_text())
