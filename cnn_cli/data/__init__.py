"""Data sets: `load_dataset(config)` (`loading.py`) reads a config's source into a `Dataset` (the images held
once, `store.py`, the splits as index arrays), and `pipeline.py` feeds it to Keras a batch at a time.

The names below are imported when first used, so that `cnn_cli.data.images` and `cnn_cli.data.decode` stay
light to import (the image decoding processes import only them, Pillow and NumPy).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

__all__ = ["ClassMap", "Dataset", "Raw", "RawSplit", "load_dataset"]

if TYPE_CHECKING:
    from cnn_cli.data.dataset import ClassMap, Dataset, Raw, RawSplit
    from cnn_cli.data.loading import load_dataset


def __getattr__(name: str):
    if name == "load_dataset":
        from cnn_cli.data.loading import load_dataset

        return load_dataset
    if name in ("ClassMap", "Dataset", "Raw", "RawSplit"):
        from cnn_cli.data import dataset

        return getattr(dataset, name)
    raise AttributeError(f"module 'cnn_cli.data' has no attribute {name!r}")
