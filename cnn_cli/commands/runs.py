"""`cnn runs`: one row per run directory under the folders given (JSON and YAML read, no Keras)."""

from __future__ import annotations

import json

import click

from cnn_cli.reports.runs_table import to_csv, to_text
from cnn_cli.rundir.run_listing import list_runs


@click.command("runs")
@click.argument("folders", nargs=-1, type=click.Path(file_okay=False))
@click.option("--where", "where", multiple=True, metavar="KEY=VALUE",
              help="Only the runs where KEY (a column such as status, task, backend, wall_seconds, or a config key "
                   "such as train.optimizer.name) has VALUE; also != < <= > >=. Repeatable: every condition holds.")
@click.option("--sort", "sort", metavar="KEY", default=None,
              help="Sort by KEY (a column or a config key); -KEY for descending (default: when the runs started).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON list, one object per run.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per run.")
def command(folders, where, sort, as_json, as_csv):
    """List the runs under FOLDERS (default: runs): name, status, task, epochs, the best monitored value, the
    test figure, parameters, MACs, wall time, backend, device, and the config keys whose values differ among
    the runs listed.

    \b
    Examples:
      cnn runs
      cnn runs runs/compare-mnist-20260101-120000 --sort -test_value
      cnn runs --where status=complete --where train.optimizer.name=adam --csv > runs.csv
    """
    if as_json and as_csv:
        raise click.UsageError("--json and --csv: choose one")
    listing = list_runs(folders or ("runs",), where=where, sort=sort,
                        warn=lambda line: click.echo(f"Warning: {line}", err=True))
    if as_json:
        click.echo(json.dumps(listing.to_dicts(), indent=2))
    elif as_csv:
        click.echo(to_csv(listing), nl=False)
    else:
        click.echo(to_text(listing))
