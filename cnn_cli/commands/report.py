"""`cnn report`: one self-contained HTML page of a trained run."""

from __future__ import annotations

import click


@click.command("report")
@click.argument("run_dir", type=click.Path())
@click.option("-o", "--out", "out", type=click.Path(dir_okay=False), default=None,
              help="The HTML file to write (default RUN_DIR/report.html).")
def command(run_dir, out):
    """Write one HTML page of RUN_DIR."""
    from cnn_cli.readers.report import write_report

    click.echo(write_report(run_dir, out))
