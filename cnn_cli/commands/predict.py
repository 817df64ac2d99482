"""`cnn predict`: the most likely classes of image files or CSV rows, by a trained run's model."""

from __future__ import annotations

import json

import click

from cnn_cli.commands.options import backend_option, cache_dir_option, json_option


@click.command("predict")
@backend_option
@cache_dir_option
@click.argument("run_dir", type=click.Path())
@click.argument("inputs", nargs=-1, required=True, type=click.Path())
@click.option("--top-k", "top_k", type=click.IntRange(min=1), default=3, show_default=True,
              help="How many classes to show per input, most likely first.")
@json_option
def command(run_dir, inputs, top_k, as_json):
    """Predict the classes of INPUT files with the model of RUN_DIR.

    An INPUT is an image file (PNG, JPEG, ...: converted to the model's channels and resized to its size)
    or a CSV file in the run's layout (label column optional, ignored; one prediction per row, named
    FILE:ROW with rows counted from 1 after the header).

    The model is RUN_DIR/model.keras, loaded in Keras' safe mode only, after a check that refuses Lambda
    layers and objects from outside Keras' layers. Legacy .h5 models are refused: convert one in a Python
    session you trust with keras.saving.load_model("model.h5").save("model.keras").

    \b
    Examples:
      cnn predict runs/mnist-20260101-120000 digit.png
      cnn predict runs/sign-20260101-120000 data/sign_layout_sample/valid.csv --top-k 1 --json
    """
    from cnn_cli.readers.prediction import predict_inputs, predictions_text

    result = predict_inputs(run_dir, list(inputs), top_k=top_k)
    click.echo(json.dumps(result, indent=2) if as_json else predictions_text(result))
