"""`cnn schema`: the JSON Schema of the config language, for editors' completion and checking."""

from __future__ import annotations

import json

import click

from cnn_cli.config import Config
from cnn_cli.errors import CnnError
from cnn_cli.rundir.atomic import write_atomic


def config_schema() -> dict:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cnn config"
    return schema


def write_schema(output: str, text: str) -> None:
    """Writes `text` to `output` whole or not at all (a file: written beside it and renamed); a place that cannot
    be written is one line naming it."""
    from pathlib import Path


    path = Path(output)
    try:
        if path.exists() and not path.is_file():  # a device or a pipe (/dev/stdout): written as it is
            with open(path, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            write_atomic(path, text)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CnnError(f"{output}: --output: cannot be written ({reason}); nothing was written") from None


@click.command("schema")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default=None, help="Write to FILE instead of standard output.")
def command(output):
    """Print the JSON Schema of config files.

    \b
    Editors that read JSON Schema (VS Code with the YAML extension, for one) complete and check
    configs with it; the schema also ships as cnn_cli/schema/config.schema.json.
    Example:
      cnn schema -o config.schema.json
    """
    text = json.dumps(config_schema(), indent=2) + "\n"
    if output:
        write_schema(output, text)
    else:
        click.echo(text, nl=False)
