"""`cnn schema`: the JSON Schema of the config language, for editors' completion and checking."""

from __future__ import annotations

import json

import click

from cnn_cli.config import Config


def config_schema() -> dict:
    schema = Config.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "cnn config"
    return schema


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
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        click.echo(text, nl=False)
