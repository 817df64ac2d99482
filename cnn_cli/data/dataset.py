"""What loading gives: `Dataset` (images and class indices per split, and the class map), and `Raw`, what a
source reader gives before the labels are mapped to class indices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from cnn_cli.data.class_map import ClassMap, default_row

__all__ = ["ClassMap", "Dataset", "Raw", "RawSplit"]


@dataclass
class RawSplit:
    """One split as read: uint8 images (N, H, W, C), the label ids as found, and where they came from."""

    x: np.ndarray
    ids: np.ndarray
    origin: str
    row: Callable[[int], str] = default_row  # 0-based position -> "row 5 (line 6)", a file name, ...

    def __len__(self) -> int:
        return len(self.x)


@dataclass
class Raw:
    train: RawSplit
    validation: RawSplit | None = None
    test: RawSplit | None = None
    origin: str = ""  # e.g. "fashion_mnist from /usr/share/datasets/fashion-mnist"


@dataclass
class Dataset:
    """Images as uint8 (N, H, W, C) and labels as int32 class indices 0..K-1; x_val/x_test may be None."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    class_map: ClassMap
    origin: str = ""  # where the data came from and what was done to it, parts separated by "; "

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.x_train.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_map)

    def describe(self) -> str:
        """A few lines: the source, the image shape and classes, the number of images per split."""
        h, w, c = self.input_shape
        counts = [("train", self.x_train), ("validation", self.x_val), ("test", self.x_test)]
        first, *notes = self.origin.split("; ")
        lines = [
            f"data: {first}".rstrip(),
            *(f"  {note}" for note in notes),
            f"  images {h}x{w}x{c}, {self.num_classes} classes ({self.class_map.summary(names=True)})",
            "  " + ", ".join(f"{name} {len(x) if x is not None else 'none'}" for name, x in counts),
        ]
        return "\n".join(lines)
