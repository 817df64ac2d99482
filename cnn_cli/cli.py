"""The `cnn` command line: a thin layer over the library.

    cnn summary --config configs/mnist.yaml
    cnn train --config configs/mnist.yaml --data data/mnist_sample.npz

Commands import TensorFlow only when they need it, so `--help` and config errors answer at once.
User errors (`CnnError`) print one line `Error: ...` and exit with their code (2 for bad input).
"""

from __future__ import annotations

import sys

import click

from cnn_cli import __version__


class _Group(click.Group):
    """Turns the tool's own errors into one-line messages with their exit codes."""

    def invoke(self, ctx):
        from cnn_cli.errors import EXIT_BAD_INPUT, EXIT_INTERRUPTED, CnnError

        words = [*getattr(ctx, "_protected_args", []), *ctx.args]
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:  # a bad flag or argument: one line too, not click's usage block
            command = f"cnn {words[0]}" if words and words[0] in self.commands else "cnn"
            click.echo(f"Error: {command}: {exc.format_message()} (see {command} --help)", err=True)
            sys.exit(EXIT_BAD_INPUT)
        except CnnError as exc:
            click.echo(f"Error: {exc.message}", err=True)
            sys.exit(exc.exit_code)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(EXIT_INTERRUPTED)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="cnn")
def main():
    """Train, check and evaluate convolutional networks described by YAML files."""


def _register() -> None:
    from cnn_cli.commands import compare, evaluate, export, predict, schema, summary, train

    for module in (summary, schema, train, evaluate, predict, compare, export):
        main.add_command(module.command)


_register()
