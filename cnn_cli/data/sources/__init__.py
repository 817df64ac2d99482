"""Data sources, one module per kind (`builtin`, `npz`, `idx`, `csv`, `folder`), each a `DataSource`
(`base.py`) registered under its schema's name (`cnn_cli.config.sources`): detection of a `--data PATH`,
reading, streaming into the cache, and how its rows are named in errors. `registry` finds them;
`read_store` / `read_source` read the source a `data:` section names."""

from cnn_cli.data.sources.reading import read_source, read_store

__all__ = ["read_source", "read_store"]
