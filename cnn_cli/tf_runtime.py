"""Kept for code that still starts the backend through it: use `cnn_cli.backends.start`, which starts the
backend in use (TensorFlow, JAX or PyTorch) quietly before Keras imports it."""

from __future__ import annotations

from cnn_cli.backends import start as import_tensorflow

__all__ = ["import_tensorflow"]
