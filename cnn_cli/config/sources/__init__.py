"""The `data:` keys of each kind of source, one module per kind: the schema a source's module defines (its
name, its own keys, what it needs and refuses). `registry` finds them; `cnn_cli.config.data` builds the
`data:` section from them. Their readers are in `cnn_cli.data.sources`, registered under the same names."""
