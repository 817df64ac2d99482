"""Runs of many variants of one config: `compare` (a grid of `--vary` values, one `cnn train` process each)."""
