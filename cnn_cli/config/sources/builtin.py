"""Keras' built-in MNIST and Fashion-MNIST (`source: mnist`, `source: fashion_mnist`): no keys of their own;
`data.path`, when given, is where to look first (a folder with mnist.npz or the four IDX files)."""

from __future__ import annotations

from typing import ClassVar

from cnn_cli.config.sources.base import SourceSchema


class Builtin(SourceSchema):
    """A built-in set: its own train and test splits, found offline first (`cnn_cli.data.sources.builtin`)."""


class Mnist(Builtin):
    name: ClassVar[str] = "mnist"
    order: ClassVar[int] = 10


class FashionMnist(Builtin):
    name: ClassVar[str] = "fashion_mnist"
    order: ClassVar[int] = 11
