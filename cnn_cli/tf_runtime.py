"""Kept for the modules that still start TensorFlow through it: see `cnn_cli.backends.tensorflow.start`."""

from __future__ import annotations

from cnn_cli.backends.tensorflow import start as import_tensorflow

__all__ = ["import_tensorflow"]
