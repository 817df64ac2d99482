"""The contract every data source follows: `DataSource`, the reader of one kind of source, registered under
the `name` of its `schema` (a `cnn_cli.config.sources` schema: its `data:` keys and checks).

A source gives `Raw` splits (`read`), and the store is made from them by `store`: for an array source (npz,
IDX, CSV) with `data.cache: disk` (or `auto` over 1 GB decoded), kept in the cache so that a later run
memory-maps it instead of reading the files again. When the cache is built (and for `auto` from source files
over 100 MB), the images are streamed from the files into the cache file (or the one array in memory) a chunk
at a time (`cnn_cli.data.streams`): never a whole split beside it. A source that decodes into the store
itself (a folder of images) overrides `store`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.base import SourceSchema
from cnn_cli.data.cache import Entry, cache_root, file_stamps, make_key, open_writer, save_entry
from cnn_cli.data.dataset import Raw
from cnn_cli.data.store import Part, Store, raw_shape

AUTO_DISK_BYTES = 1_000_000_000  # data.cache: auto keeps array sources larger than this decoded on disk
STREAM_MIN_FILE_BYTES = 100_000_000  # ... and streams them into it from files this large (they may be that large)

Detected = tuple[DataConfig, list[str]]
"""What a source makes of a `--data PATH`: the `data:` section that reads it, and notes for `Dataset.describe()`."""


def expand_user(path: str) -> str:
    """A config path as used: `~` expanded, relative paths left relative to the working directory."""
    return os.path.expanduser(path)


# The keys that describe the config's own data, which another source does not share: `--data PATH` clears
# them; how images are read and used (image shape, resize, bad images, splits, subset, augment, cache) stays.
SOURCE_KEYS = ("path", "train", "validation", "test", "class_names", "npz_keys", "label_column", "image_column",
               "label_columns")


def with_source(base: DataConfig | None, source: str, **update) -> DataConfig:
    """The config's section with another source: the source keys not given here are cleared."""
    if base is None:
        return DataConfig(source=source, **update)
    default = DataConfig(source=source)
    cleared = {key: getattr(default, key) for key in SOURCE_KEYS}
    return base.model_copy(update={**cleared, **update, "source": source})


class DataSource:
    """One kind of source. A subclass with a `schema` that has a name is a source (`registry` finds it in its
    module of this package; one defined elsewhere is added with `registry.register`)."""

    schema: ClassVar[type[SourceSchema] | None] = None
    """The source's `data:` keys and checks; its `name` is the source's."""
    suffixes: ClassVar[tuple[str, ...]] = ()
    """File name endings a `--data FILE` of this source has (`detect` takes such a file as `data.path`)."""
    detects: ClassVar[str] = ""
    """What else `--data PATH` of this source is, in words, for the error that names what is understood."""
    detect_order: ClassVar[int] = 50
    """When `detect` is tried: lowest first (a source that takes any folder comes last)."""
    cache_keys: ClassVar[frozenset[str]] = frozenset({"source", "npz_keys", "label_column", "image_shape"})
    """The `data:` keys that key the cache entry, with the files' stamps."""

    @property
    def name(self) -> str:
        return self.schema.name

    @staticmethod
    def row(position: int) -> str:
        """How errors name the example at `position` (0-based) of a split."""
        return f"row {position + 1}"

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        """The section that reads `path` (which exists; `given` as the user wrote it) when it is this source's,
        else None."""
        if self.suffixes and path.is_file() and path.suffix.lower() in self.suffixes:
            return with_source(base, self.name, path=given), []
        return None

    def files(self, data: DataConfig, source: str) -> list[str]:
        """The files the source reads, whose stamps key its cache entry; none: it is not cached."""
        return []

    def read(self, data: DataConfig, source: str, streamed: bool = False) -> Raw:
        """The source's splits; `streamed`: their images are read later, a chunk at a time, into the array they
        go to (`Store.from_raw`), never whole on their own (their `x` has `len`, `.shape` and `fill(out)`)."""
        raise NotImplementedError(f"source {self.name} reads into its store itself")

    def store(self, data: DataConfig, source: str, check: Callable[[Raw], None] | None = None) -> Store:
        """The store of the section's source; `check(raw)` validates what `read` gave before it is kept."""
        entry = self._entry(data, source) if data.cache in ("disk", "auto", "memory") else None
        opened = entry.open(mmap=data.cache != "memory") if entry is not None else None
        if opened is not None:
            images, meta = opened
            return self._stored(images, meta, "memory (read from the cache)" if data.cache == "memory"
                                else f"cache {entry.images}")
        streamed = entry is not None and (data.cache != "auto" or self._source_bytes(data, source) > STREAM_MIN_FILE_BYTES)
        raw = self.read(data, source, streamed=streamed)
        if check is not None:
            check(raw)
        shape = raw_shape(raw)
        to_disk = entry is not None and (data.cache == "disk" or (data.cache == "auto" and np.prod(shape) > AUTO_DISK_BYTES))
        writer = open_writer(entry, shape) if to_disk else None
        try:
            store = Store.from_raw(raw, writer.images if writer is not None else None)
        except BaseException:
            if writer is not None:
                writer.abandon()
            raise
        del raw
        meta = {"shape": list(store.images.shape), "origin": store.origin, "parts": {
            name: {"range": [int(part.positions[0]), int(part.positions[-1]) + 1] if len(part) else [0, 0],
                   "ids": part.ids.tolist(), "origin": part.origin}
            for name, part in store.parts.items()}}
        if writer is not None:  # train from the memory map
            return self._stored(writer.commit(meta), meta, f"cache {entry.images}")
        if entry is not None and data.cache == "memory":
            save_entry(entry, store.images, meta)  # kept in memory, and in the cache for the next run
        return store

    def _source_bytes(self, data: DataConfig, source: str) -> int:
        return sum(os.stat(f).st_size for f in self.files(data, source))

    def _entry(self, data: DataConfig, source: str) -> Entry | None:
        """The cache entry of the source's files (none when it has no files, or one is missing)."""
        files = self.files(data, source)
        if not files or not all(Path(f).is_file() for f in files):
            return None
        settings = data.model_dump(include=set(self.cache_keys), mode="json")
        return Entry(cache_root(), make_key(data.source, file_stamps(files), **settings))

    def _stored(self, images, meta: dict, where: str) -> Store:
        parts = {name: Part(_positions(p), np.asarray(p["ids"]), p["origin"], self.row)
                 for name, p in meta["parts"].items()}
        return Store(images=images, parts=parts, origin=meta["origin"], cache=where)


def _positions(part: dict) -> np.ndarray:
    """A part's positions in the images: a range [start, stop) (the splits of an array source follow each
    other), or a list (entries written before ranges)."""
    if "range" in part:
        return np.arange(*part["range"], dtype=np.int64)
    return np.asarray(part["positions"], dtype=np.int64)
