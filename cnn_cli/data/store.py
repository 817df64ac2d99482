"""The images of a data set held ONCE: one uint8 array (N, H, W, C), in memory or memory-mapped from the
cache's `.npy` file (`np.load(mmap_mode="r")`), and the source's splits as index arrays into it.

- `Store`: the array and its `parts` (the splits as the source has them: train, and validation/test when
  the source has its own), each a `Part` of positions into the array with the label ids as found.
- `Store.from_raw(raw, target)`: a store from what a source reader gave (one split's array is used as it
  is; several, or splits streamed from their files (`streams.py`), are written into one array, or into the
  cache file's memory map, split after split).

Everything derived later (the validation split taken off train, subsets, each epoch's order, batches) is an
index array into `Store.images`, never a copy of the images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cnn_cli.data.class_map import default_row
from cnn_cli.data.dataset import Raw
from cnn_cli.errors import DataError
from cnn_cli.number_format import human_bytes

SPLITS = ("train", "validation", "test")


@dataclass
class Part:
    """One split as the source has it: positions into the store's images, label ids as found, and names."""

    positions: np.ndarray  # int64, into Store.images
    ids: np.ndarray
    origin: str
    row: Callable[[int], str] = default_row  # 0-based position within the part -> "row 5 (line 6)", a file, ...
    source: Callable[[int], str] | None = None  # the example's source in full (an image file's path); None: origin + row

    def __len__(self) -> int:
        return len(self.positions)

    def sources(self) -> list[str]:
        """Where each example came from, in the part's order: the image file's path (folders, manifests), else
        the origin and the row (`data.csv row 5 (line 6)`, `data.npz [y_test] index 264`)."""
        if self.source is not None:
            return [self.source(i) for i in range(len(self))]
        return [f"{self.origin} {self.row(i)}" for i in range(len(self))]


@dataclass
class Store:
    """The images once, and the source's splits (`parts`) as index arrays into them."""

    images: np.ndarray  # (N, H, W, C) uint8: an ndarray, or an np.memmap of the cache file
    parts: dict[str, Part]
    origin: str = ""
    skipped: list[str] = field(default_factory=list)  # image files left out (data.bad_images: skip)
    cache: str = ""  # where the images are: "memory", or "cache FILE" (memory-mapped)
    names: list[str] | None = None  # the label or target names of label rows, where the source names them

    @property
    def on_disk(self) -> bool:
        return isinstance(self.images, np.memmap)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    @classmethod
    def from_raw(cls, raw: Raw, target: np.ndarray | None = None) -> Store:
        """The splits of `raw` in one array: `target` when given (e.g. a cache file's memory map, of the
        splits' total shape), else one array (a lone split's array is used as it is). Streamed splits
        (`streams.py`) are read into it a chunk at a time; `raw`'s arrays are not kept (the caller drops them)."""
        present = [(name, getattr(raw, name)) for name in SPLITS if getattr(raw, name) is not None]
        streamed = any(not isinstance(split.x, np.ndarray) for _, split in present)
        copy = target is not None or streamed or len(present) > 1
        if not copy:
            images = np.ascontiguousarray(present[0][1].x, dtype=np.uint8)
        elif target is None:
            first = present[0][1]  # named by its images' file where they are streamed from one
            images = _allocated(raw_shape(raw), str(getattr(first.x, "path", None) or first.origin))
        else:
            images = target
        parts, start = {}, 0
        for name, split in present:
            stop = start + len(split)
            if copy and isinstance(split.x, np.ndarray):
                images[start:stop] = split.x
            elif copy:
                split.x.fill(images[start:stop])
            parts[name] = Part(np.arange(start, stop), split.ids, split.origin, split.row)
            start = stop
        return cls(images=images, parts=parts, origin=raw.origin, cache="memory")


def _allocated(shape: tuple[int, ...], origin: str) -> np.ndarray:
    """A new uint8 array of `shape`; one line naming the data when the machine cannot give that much memory
    (data far larger than memory, or a header that declares absurd sizes)."""
    try:
        return np.empty(shape, dtype=np.uint8)
    except MemoryError:
        images = "x".join(str(d) for d in shape[1:])
        raise DataError(origin, f"{shape[0]:,} images of {images} to hold: {human_bytes(int(np.prod(shape)))}, more "
                        "than this machine's memory (is the header damaged? data this large needs data.cache: disk "
                        "and the disk space for it)") from None


def raw_shape(raw: Raw) -> tuple[int, ...]:
    """(N, H, W, C) of all of `raw`'s splits together."""
    present = [getattr(raw, name) for name in SPLITS if getattr(raw, name) is not None]
    return (sum(len(split) for split in present), *present[0].x.shape[1:])
