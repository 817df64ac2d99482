"""`cnn cache list|clear`: the decoded-image cache (`cnn_cli.data.cache`): what it holds, and emptying it."""

from __future__ import annotations

import click

from cnn_cli.commands.options import cache_dir_option
from cnn_cli.data.cache import cache_root, clear_entries, list_entries
from cnn_cli.number_format import human_bytes


@click.group("cache")
def command():
    """The decoded-image cache: image folders (and large array files) decoded once into one file each.

    It lives in --cache-dir, else CNN_CACHE_DIR, else $XDG_CACHE_HOME/cnn or ~/.cache/cnn.
    """


@command.command("list")
@cache_dir_option
def list_command():
    """List the cache's entries: images, shape, size and source."""

    found = list_entries()
    if not found:
        click.echo(f"{cache_root()}: no cached data sets")
        return
    for entry in found:
        shape = "x".join(str(d) for d in entry["shape"] or ["?"])
        click.echo(f"{entry['key']}  {human_bytes(entry['bytes']):>9}  {shape:<18}  {entry['origin']}")
    total = sum(entry["bytes"] for entry in found)
    click.echo(f"{len(found)} entr{'y' if len(found) == 1 else 'ies'}, {human_bytes(total)} in {cache_root()}")


@command.command("clear")
@cache_dir_option
def clear_command():
    """Remove every entry of the cache (they are rebuilt when next needed)."""

    count, freed = clear_entries()
    click.echo(f"Removed {count} entr{'y' if count == 1 else 'ies'} ({human_bytes(freed)}) from {cache_root()}")
