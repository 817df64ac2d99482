"""The `cnn` command line: a thin layer over the library.

    cnn summary --config configs/mnist.yaml
    cnn train --config configs/mnist.yaml --data data/mnist_sample.npz

Commands import TensorFlow only when they need it, so `--help` and config errors answer at once.
User errors (`CnnError`) print one line `Error: ...` and exit with their code (2 for bad input).
"""

from __future__ import annotations

import sys
import typing

import click

from cnn_cli import __version__
from cnn_cli.commands import (
    cache,
    compare,
    evaluate,
    export,
    inspect,
    layers,
    lr_find,
    predict,
    report,
    runs,
    schema,
    serve,
    summary,
    train,
    tune,
)
from cnn_cli.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, CnnError


class _Group(click.Group):
    """Turns the tool's own errors, and click's usage errors, into one-line messages with their exit codes."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:  # a bad flag of `cnn` itself (`cnn --bogus`)
            _usage_error(exc)

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a bad flag or argument of a command
            _usage_error(exc)
        except CnnError as exc:
            for line in getattr(exc, "lines", [exc.message]):  # a config's several mistakes: one line each
                click.echo(f"Error: {line}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)


def _usage_error(exc: click.UsageError) -> typing.NoReturn:
    """One line `Error: cnn <command>: <problem> (see cnn <command> --help)`, exit 2, not click's usage block."""

    if isinstance(exc, getattr(click.exceptions, "NoArgsIsHelpError", ())):  # `cnn` alone: the help, as click shows it
        raise exc
    names, ctx = [], exc.ctx
    while ctx is not None and ctx.parent is not None:
        names.append(ctx.info_name)
        ctx = ctx.parent
    command = " ".join(["cnn", *reversed(names)])
    click.echo(f"Error: {command}: {exc.format_message()} (see {command} --help)", err=True)
    sys.exit(EXIT_BAD_INPUT)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cnn")
def main():
    """Train, check and evaluate convolutional networks described by YAML files."""


def _register() -> None:
    for module in (summary, schema, train, evaluate, predict, compare, tune, runs, lr_find, layers, inspect, report, export,
                   serve, cache):
        main.add_command(module.command)


_register()
