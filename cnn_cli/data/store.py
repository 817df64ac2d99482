"""The images of a data set held ONCE: one uint8 array (N, H, W, C), in memory or memory-mapped from the
cache's `.npy` file (`np.load(mmap_mode="r")`), and the source's splits as index arrays into it.

- `Store`: the array and its `parts` (the splits as the source has them: train, and validation/test when
  the source has its own), each a `Part` of positions into the array with the label ids as found.
- `Store.from_raw(raw)`: a store from what a source reader gave (one split's array is used as it is;
  several are copied into one array once, split after split).

Everything derived later (the validation split taken off train, subsets, each epoch's order, batches) is an
index array into `Store.images`, never a copy of the images.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from cnn_cli.data.class_map import default_row
from cnn_cli.data.dataset import Raw

SPLITS = ("train", "validation", "test")


@dataclass
class Part:
    """One split as the source has it: positions into the store's images, label ids as found, and names."""

    positions: np.ndarray  # int64, into Store.images
    ids: np.ndarray
    origin: str
    row: Callable[[int], str] = default_row  # 0-based position within the part -> "row 5 (line 6)", a file, ...

    def __len__(self) -> int:
        return len(self.positions)


@dataclass
class Store:
    """The images once, and the source's splits (`parts`) as index arrays into them."""

    images: np.ndarray  # (N, H, W, C) uint8: an ndarray, or an np.memmap of the cache file
    parts: dict[str, Part]
    origin: str = ""
    skipped: list[str] = field(default_factory=list)  # image files left out (data.bad_images: skip)
    cache: str = ""  # where the images are: "memory", or "cache FILE" (memory-mapped)

    @property
    def on_disk(self) -> bool:
        return isinstance(self.images, np.memmap)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.images.shape[1:])  # type: ignore[return-value]

    @classmethod
    def from_raw(cls, raw: Raw) -> Store:
        """The splits of `raw` in one array; `raw`'s arrays are not kept (the caller drops them)."""
        present = [(name, getattr(raw, name)) for name in SPLITS if getattr(raw, name) is not None]
        if len(present) == 1:
            images = np.ascontiguousarray(present[0][1].x, dtype=np.uint8)
        else:
            total = sum(len(split) for _, split in present)
            images = np.empty((total, *present[0][1].x.shape[1:]), dtype=np.uint8)
        parts, start = {}, 0
        for name, split in present:
            stop = start + len(split)
            if len(present) > 1:
                images[start:stop] = split.x
            parts[name] = Part(np.arange(start, stop), split.ids, split.origin, split.row)
            start = stop
        return cls(images=images, parts=parts, origin=raw.origin, cache="memory")
