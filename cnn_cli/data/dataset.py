"""What loading gives: `Dataset` (images and class indices per split, and the class map), and `Raw`, what a
source reader gives before the labels are mapped to class indices."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    """The images once (`images`: uint8 (N, H, W, C), in memory or memory-mapped), their labels (`labels`: int32
    class indices 0..K-1; for multilabel uint8 multi-hot rows (N, L), for regression float32 targets (N, T), the
    class map naming the labels or targets; aligned with `images`) and the splits as index arrays into them (`train`, and
    `validation` and `test` or None). `x_train`, `y_train`, ... gather a split: copies, for tests and tools;
    training and evaluation hand the index arrays to the pipeline instead."""

    images: np.ndarray
    labels: np.ndarray
    train: np.ndarray
    validation: np.ndarray | None
    test: np.ndarray | None
    class_map: ClassMap
    origin: str = ""  # where the data came from and what was done to it, parts separated by "; "
    skipped: list[str] = field(default_factory=list)  # image files left out (data.bad_images: skip)
    sources: np.ndarray | None = None  # where each image came from (object strings, aligned with `images`)

    def source_of(self, index: np.ndarray) -> list[str]:
        """The sources of the images at `index` (a file's path, a CSV's row, an array's index)."""
        if self.sources is None:
            return [f"{self.origin.split('; ')[0]} #{int(i)}" for i in index]
        return [str(s) for s in self.sources[np.asarray(index, dtype=np.int64)]]

    def split(self, name: str) -> np.ndarray | None:
        """The positions of split `name` (train, validation, test) in `images`, or None."""
        return getattr(self, name)

    def _x(self, name: str) -> np.ndarray | None:
        index = self.split(name)
        return None if index is None else self.images[index]

    def _y(self, name: str) -> np.ndarray | None:
        index = self.split(name)
        return None if index is None else self.labels[index]

    x_train = property(lambda self: self._x("train"))
    y_train = property(lambda self: self._y("train"))
    x_val = property(lambda self: self._x("validation"))
    y_val = property(lambda self: self._y("validation"))
    x_test = property(lambda self: self._x("test"))
    y_test = property(lambda self: self._y("test"))

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    @property
    def num_classes(self) -> int:
        return len(self.class_map)

    @property
    def kind(self) -> str:
        """What the class map's entries are: classes (labels (N,)), labels (multi-hot (N, L)) or targets."""
        labels = np.asarray(self.labels)
        if labels.ndim != 2:
            return "classes"
        return "labels" if labels.dtype == np.uint8 else "targets"

    def describe(self) -> str:
        """A few lines: the source, the image shape and classes, the number of images per split."""
        h, w, c = self.input_shape
        counts = [("train", self.train), ("validation", self.validation), ("test", self.test)]
        first, *notes = self.origin.split("; ")
        lines = [
            f"data: {first}".rstrip(),
            *(f"  {note}" for note in notes),
            f"  images {h}x{w}x{c}, {self.num_classes} {self.kind} ({self.class_map.summary(names=True)})",
            "  " + ", ".join(f"{name} {len(x) if x is not None else 'none'}" for name, x in counts),
        ]
        return "\n".join(lines)
