"""`cnn train`: trains a model from a config and writes a run directory (see `cnn_cli.training`)."""

from __future__ import annotations

import os
import re
import sys

import click

from cnn_cli.backends import name as backend_name
from cnn_cli.commands.options import (
    backend_option,
    cache_dir_option,
    config_option,
    data_option,
    set_option,
    subset_option,
)
from cnn_cli.errors import CnnError
from cnn_cli.training import distribute, supervisor
from cnn_cli.training.trainer import TrainOptions, train


@click.command("train")
@backend_option
@cache_dir_option
@config_option
@set_option
@data_option
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Override train.epochs.")
@subset_option
@click.option("--run-dir", "run_dir", type=click.Path(), default=None,
              help="Where to write the run (default runs/<name>-<YYYYmmdd-HHMMSS>); must be new or empty.")
@click.option("--seed", type=click.IntRange(min=0), default=None, help="Override the config's seed (random when none is given).")
@click.option("--init-from", "init_from", type=click.Path(), default=None, metavar="RUN_DIR",
              help="Start a new run from RUN_DIR's model: every layer whose name and weight shapes match is loaded.")
@click.option("--resume", "resume", is_flag=False, flag_value="", default=None, metavar="[RUN_DIR]",
              help="Continue an interrupted run from its last finished epoch (RUN_DIR, or the one given with --run-dir); "
                   "with --epochs N, extend a complete or interrupted run to N epochs.")
@click.option("--time-limit", "time_limit", default=None, metavar="DURATION",
              help="End at the first epoch boundary past this wall-clock time from the start (90s, 20m, 1h30m, or "
                   "seconds), saving and reporting as usual.")
@click.option("--coordinator", default=None, metavar="HOST:PORT",
              help="data_parallel over several JAX processes: process 0's address (sets JAX_COORDINATOR_ADDRESS).")
@click.option("--num-processes", "num_processes", type=click.IntRange(min=1), default=None,
              help="data_parallel over several JAX processes: how many (sets JAX_NUM_PROCESSES).")
@click.option("--process-id", "process_id", type=click.IntRange(min=0), default=None,
              help="data_parallel over several JAX processes: this one's, 0 to N-1 (sets JAX_PROCESS_ID).")
def command(config_path, overrides, data_path, epochs, subset, run_dir, seed, init_from, resume, time_limit,
            coordinator, num_processes, process_id):
    """Train a model and write its run directory: config, model, best checkpoint, history, metrics, plots.

    \b
    Examples:
      cnn train --config configs/mnist.yaml --data data/mnist_sample.npz
      cnn train --config configs/fashion_mnist.yaml --data data/fashion_mnist_sample.npz --epochs 3
      cnn train --config configs/mnist.yaml --set train.optimizer=rmsprop --run-dir runs/rmsprop
      cnn train --config configs/mnist.yaml --set 'model.layers[0].activation=elu'
      cnn train --resume runs/mnist-20260101-120000
      cnn train --resume runs/mnist-20260101-120000 --epochs 10       # extend to 10 epochs
      cnn train --config configs/mnist.yaml --init-from runs/mnist-20260101-120000 --set train.epochs=2

    \b
    Exit codes: 0 done, 2 bad input, 3 training diverged (NaN loss), 4 a worker (process) of a distributed run
    was lost, 130 interrupted.
    """

    for name, value in zip(distribute.JAX_ENV, (coordinator, num_processes, process_id)):
        if value is not None:
            os.environ[name] = str(value)
    worker = _jax_worker()
    if supervisor.wanted(backend_name(), worker):  # one of several JAX processes: a child trains, this one watches
        sys.exit(supervisor.run(sys.argv[1:], worker))
    if resume is not None and resume and run_dir and resume != run_dir:
        raise CnnError(f"--resume {resume} and --run-dir {run_dir} name different run directories")
    opts = TrainOptions(
        config_path=config_path, overrides=tuple(overrides), data_path=data_path, epochs=epochs, subset=subset,
        seed=seed, run_dir=(resume or run_dir) if resume is not None else run_dir, resume=resume is not None,
        init_from=init_from,
        verbose=1 if sys.stdout.isatty() else 2, argv=["cnn", *sys.argv[1:]],
        time_limit=None if time_limit is None else parse_duration(time_limit),
    )
    train(opts, echo=click.echo)


def _jax_worker():
    """This process's place among several JAX processes, or None (a bad variable: the run says so later)."""
    try:
        return distribute.jax_worker()
    except CnnError:
        return None


_DURATION = re.compile(r"^(?:(\d+(?:\.\d+)?)h)?(?:(\d+(?:\.\d+)?)m)?(?:(\d+(?:\.\d+)?)s?)?$")


def parse_duration(text: str) -> float:
    """Seconds of `--time-limit`: 90, 90s, 20m, 1h, 1h30m (more than zero)."""

    match = _DURATION.match(str(text).strip())
    if not text or not match or not any(match.groups()):
        raise CnnError(f"--time-limit: expected a duration such as 90s, 20m or 1h30m, received {text!r}")
    hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = hours * 3600 + minutes * 60 + seconds
    if total <= 0:
        raise CnnError(f"--time-limit: expected a duration above zero, received {text!r}")
    return total
