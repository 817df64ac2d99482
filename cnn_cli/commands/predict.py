"""`cnn predict`: the most likely classes of image files or CSV rows, by a trained run's model."""

from __future__ import annotations

import json

import click

from cnn_cli.commands.options import backend_option, cache_dir_option, json_option
from cnn_cli.errors import EXIT_BAD_INPUT


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

    An INPUT is an image file (PNG, JPEG: converted to the model's channels and resized to its size), a
    folder of them (opened recursively), or a CSV file in the run's layout (label column optional, ignored;
    one prediction per row, named FILE:ROW with rows counted from 1 after the header). What cnn train skips
    in an image folder (Thumbs.db, README.txt, hidden files) is skipped and listed. A file that cannot be
    read is reported on its line and the others are still predicted; the exit code is then 2.
    A warning says when an image's background is the opposite of the training images' (dark digits on
    white for a model trained on MNIST's white on black).

    The model is RUN_DIR/model.keras, loaded in Keras' safe mode only, after a check that refuses Lambda
    layers and objects from outside Keras' layers. Legacy .h5 models are refused: convert one in a Python
    session you trust with keras.saving.load_model("model.h5").save("model.keras").

    \b
    Examples:
      cnn predict runs/mnist-20260101-120000 digit.png
      cnn predict runs/mnist-20260101-120000 my_digits/
      cnn predict runs/sign-20260101-120000 data/sign_layout_sample/valid.csv --top-k 1 --json
    """
    import sys

    from cnn_cli.inference.prediction import predict_inputs, predictions_text

    result = predict_inputs(run_dir, list(inputs), top_k=top_k)
    for line, to_stderr in predictions_text(result):
        if not as_json or to_stderr:
            click.echo(line, err=to_stderr)
    if as_json:
        click.echo(json.dumps(result, indent=2))
    if result["failed"]:
        sys.exit(EXIT_BAD_INPUT)
