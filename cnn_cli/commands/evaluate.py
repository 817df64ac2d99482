"""`cnn evaluate`: a trained run's loss, accuracy, per-class metrics and confusion matrix on its test split."""

from __future__ import annotations

import click

from cnn_cli.commands.options import (
    backend_option,
    cache_dir_option,
    data_option,
    echo_report,
    json_option,
    subset_option,
)


@click.command("evaluate")
@backend_option
@cache_dir_option
@click.argument("run_dir", type=click.Path())
@data_option
@subset_option
@json_option
@click.option("--batch-size", type=click.IntRange(min=1), default=256, show_default=True,
              help="Batch size of the evaluation (larger is faster; it does not change the results).")
@click.option("--no-write", "no_write", is_flag=True,
              help="Only print: do not write evaluation.json and confusion_matrix.png into RUN_DIR.")
@click.option("--tta", type=click.Choice(["none", "flip"]), default="none", show_default=True,
              help="Test-time augmentation: flip also reports the accuracy of the mean prediction of each image and "
                   "its mirror (wrong for digits, letters and signs: a warning says so).")
@click.option("--mistakes", "mistakes", type=click.Path(dir_okay=False), default=None, metavar="FILE.csv",
              help="Write every wrong prediction to FILE.csv: source (the image file, CSV row or array index), true, "
                   "predicted, score (multi-label and regression runs: their own columns).")
def command(run_dir, data_path, subset, as_json, batch_size, no_write, tta, mistakes):
    """Evaluate a trained run on the test split of the data it was trained on (or of --data PATH).

    Without a test split, the validation split is used (the output says which). Prints loss, accuracy,
    per-class precision/recall/F1/support, the confusion matrix and the most confused pairs; writes
    RUN_DIR/evaluation.json and RUN_DIR/confusion_matrix.png (unless --no-write). --json and evaluation.json
    hold `mistakes`: every wrong prediction with its source (a file's path, a CSV's row, an array's index),
    the most confident first; --mistakes FILE.csv writes them as a table.

    The model is RUN_DIR/model.keras, loaded in Keras' safe mode only, after a check that refuses Lambda
    layers and objects from outside Keras' layers. Legacy .h5 models are refused: convert one in a Python
    session you trust with keras.saving.load_model("model.h5").save("model.keras"). The run's own files
    must lie inside RUN_DIR (a symlink that leads out is refused); its data path may be anywhere.

    \b
    Examples:
      cnn evaluate runs/mnist-20260101-120000
      cnn evaluate runs/mnist-20260101-120000 --data data/mnist_sample.npz --json
      cnn evaluate runs/fashion_mnist-20260101-120000 --tta flip
      cnn evaluate runs/photos-20260101-120000 --mistakes mistakes.csv
    """
    from cnn_cli.reports.evaluation_files import evaluate_and_write

    evaluation = evaluate_and_write(run_dir, data_path=data_path, subset=subset, batch_size=batch_size,
                              write_files=not no_write, tta=tta, mistakes=mistakes)
    echo_report(evaluation, as_json)
