"""`cnn compare`: train one variant of a config per combination of --vary values, and compare them."""

from __future__ import annotations

import json

import click

from cnn_cli.backends import require
from cnn_cli.commands.options import (
    backend_option,
    cache_dir_option,
    config_option,
    data_option,
    json_option,
    set_option,
    subset_option,
)
from cnn_cli.errors import CnnError
from cnn_cli.studies.compare import COMPARISON_CSV, COMPARISON_PNG, CompareOptions, compare, table


@click.command("compare")
@backend_option
@cache_dir_option
@config_option
@click.option("--vary", "varies", multiple=True, required=True, metavar="KEY.PATH=V1,V2,...",
              help="A config key (the paths --set takes: model.layers[0].filters=16,32) and the values to try "
                   "(read as YAML); repeatable: every combination is trained.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs for every variant.")
@subset_option
@data_option
@click.option("--out", "out", type=click.Path(file_okay=False), default=None,
              help="Folder for the variants' run directories and the comparison (default runs/compare-<name>-<time>).")
@click.option("--seed", type=click.IntRange(min=0), default=None,
              help="The seed of every variant (default: the config's seed, else one random seed for all).")
@click.option("--folds", type=click.IntRange(min=2), default=None, metavar="K",
              help="K-fold cross-validation of each variant: K runs, each validating on one stratified part of the "
                   "training split (data.fold); the table gives the mean and standard deviation over the folds.")
@set_option
@json_option
def command(config_path, varies, epochs, subset, data_path, out, seed, folds, overrides, as_json):
    """Train every combination of --vary values with the same seed and data, and compare the results.

    Each variant is a `cnn train` run (in its own process) in OUT/<variant>, its output in OUT/<variant>.log.
    The table (variant, status, rank, the task's figures, epochs, seconds; best first) is printed and saved
    as OUT/comparison.csv, with a bar chart OUT/comparison.png. The figures are the task's: best validation
    and test accuracy; a multi-label run's validation and test micro F1 and test mAP; a regression's
    validation and test MAE (lower is better) and test R². The variants are ranked by the first (by the test
    figure when there is no validation split). A failed variant is listed with its status and the others
    are kept; the command then fails (exit 2) and names the variants that failed.

    \b
    Examples:
      cnn compare --config configs/mnist.yaml --vary train.optimizer=adam,rmsprop,sgd
      cnn compare --config configs/mnist.yaml --vary 'model.layers[0].filters=16,32'
      cnn compare --config configs/mnist.yaml --data data/mnist_sample.npz --subset 1000 --epochs 2 \\
          --vary train.optimizer=adam,sgd --vary train.batch_size=32,128
    """

    if not config_path:
        raise CnnError("no config: give --config FILE")
    require()  # the variants' processes run on the backend chosen here (KERAS_BACKEND)
    opts = CompareOptions(config_path=config_path, varies=varies, overrides=overrides, epochs=epochs, subset=subset,
                          data_path=data_path, out=out, seed=seed, folds=folds)
    comparison = compare(opts, echo=lambda line: click.echo(line, err=True))
    folder, variants = comparison.folder, comparison.variants
    if as_json:
        click.echo(json.dumps(comparison.to_dict(), indent=2))
    else:
        click.echo(table(comparison))
        click.echo(f"Wrote {folder / COMPARISON_CSV}, {folder / COMPARISON_PNG} and {folder / 'comparison.html'}")
    failed = [v for v in variants if v.status != "complete"]
    if failed and len(failed) == len(variants):
        raise CnnError(f"every variant failed; see the logs in {folder} (first: {failed[0].error or failed[0].status})")
    if failed:
        raise CnnError(f"{len(failed)} of {len(variants)} variants did not complete: "
                       + "; ".join(f"{v.label} ({v.status})" for v in failed) + f"; see their logs in {folder}")
