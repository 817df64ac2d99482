"""`cnn tune`: search a config's settings with Optuna, one run directory per trial."""

from __future__ import annotations

import sys

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
from cnn_cli.commands.train import parse_duration
from cnn_cli.errors import CnnError
from cnn_cli.studies.tune import BEST_YAML, PRUNERS, SAMPLERS, STUDY_DB, TuneOptions, check, storage_shown, table, tune


@click.command("tune")
@backend_option
@cache_dir_option
@config_option
@data_option
@click.option("--param", "params", multiple=True, metavar="KEY=DIST",
              help="A config key (the paths --set takes) and its distribution: loguniform(a,b), uniform(a,b), "
                   "int(a,b), int(a,b,step) or choice(x,y,...); repeatable.")
@click.option("--space", "space_file", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="A YAML file of KEY: DIST lines (a list is a choice), with or instead of --param.")
@click.option("--trials", type=int, required=True, help="How many finished (complete or pruned) trials the study holds.")
@click.option("--time-limit", "time_limit", default=None, metavar="DURATION",
              help="No new trial starts after this long (90s, 20m, 1h30m); the one running finishes.")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="tpe", show_default=True)
@click.option("--pruner", type=click.Choice(PRUNERS), default="median", show_default=True)
@click.option("--startup-trials", "startup_trials", type=click.IntRange(min=0), default=5, show_default=True,
              help="The median pruner prunes nothing before this many trials have finished.")
@click.option("--metric", default="val_accuracy", show_default=True,
              help="The history's figure to optimise (a loss, mae or rmse is minimised, others maximised).")
@click.option("--study-dir", "study_dir", type=click.Path(file_okay=False), default=None,
              help="The study's folder: study.db, best.yaml, study.html and one run directory per trial "
                   "(default runs/tune-<config's name>, with -<study> for another --study).")
@click.option("--study", "study_name", default=None, help="The study's name (default: the config's name).")
@click.option("--storage", default=None, metavar="URL",
              help="The study's database (default sqlite:///DIR/study.db); postgresql://USER:PASSWORD@HOST/DB lets "
                   "several cnn tune processes, on one machine or many, work on one study.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="The seed of every trial and of the sampler.")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs for every trial.")
@click.option("--folds", type=click.IntRange(min=2), default=None, metavar="K",
              help="K-fold cross-validation of every trial: K runs (DIR/trial-NNNN/fold-i), each validating on one "
                   "stratified part of the training split; the trial's value is their mean, reported after each "
                   "fold, so that the pruner can stop a trial between folds.")
@subset_option
@set_option
def command(config_path, data_path, params, space_file, trials, time_limit, sampler, pruner, startup_trials, metric,
            study_dir, study_name, storage, seed, epochs, folds, subset, overrides):
    """Search settings of a config: each trial trains one sampled config in DIR/trial-NNNN.

    The study is kept in DIR/study.db (or --storage): the same command again goes on with it, and Ctrl-C
    ends it after the epoch under way. Each epoch's metric goes to the pruner, which stops a trial that falls
    behind at an epoch's end. The trials are listed sorted by the metric; the best trial's config (with its
    seed) is written to DIR/best.yaml, the study's page to DIR/study.html.

    \b
    Examples:
      cnn tune --config configs/fashion_mnist.yaml --trials 20 \\
          --param train.optimizer.learning_rate='loguniform(1e-4,1e-2)' --param train.batch_size='choice(32,64,128)'
    """
    if not config_path:
        raise CnnError("no config: give --config FILE")
    opts = TuneOptions(config_path=config_path, params=params, space_file=space_file, trials=trials,
                       time_limit=None if time_limit is None else parse_duration(time_limit), sampler=sampler,
                       pruner=pruner, startup_trials=startup_trials, metric=metric, study_dir=study_dir,
                       study_name=study_name, storage=storage, seed=seed, overrides=overrides, epochs=epochs,
                       subset=subset, data_path=data_path, argv=("cnn", *sys.argv[1:]), folds=folds)
    check(opts)  # bad input: one line before the backend starts
    require()
    result = tune(opts, echo=lambda line: click.echo(line, err=True))
    click.echo(table(result, metric))
    for note in result.notes:
        click.echo(f"Note: {note}")
    if result.best is None:
        raise CnnError(f"no trial of the study in {result.folder} completed; see the table above")
    best = result.best
    click.echo(f"Best: trial {best.number}, {metric} {best.value:.4f}; its config: {result.folder / BEST_YAML} "
               f"(study: {storage_shown(storage) or result.folder / STUDY_DB}, page: {result.folder / 'study.html'})")
