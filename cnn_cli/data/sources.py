"""Reading the source a `data:` section names: one reader per kind, all giving `Raw` splits, and the `Store`
(the images once) made from them: `read_store`. Image folders decode into the store themselves (`folder.py`);
the array sources (npz, IDX, CSV) are read and, with `data.cache: disk` (or `auto` over 1 GB decoded),
kept in the cache so that a later run memory-maps them instead of reading them again. When the cache is
built (and for `auto` from source files over 100 MB), their images are streamed from the files into the
cache file (or the one array in memory) a chunk at a time (`streams.py`): never a whole split beside it."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnn_cli.config.data import DataConfig, IdxPair, check_data
from cnn_cli.data import cache as C
from cnn_cli.data.builtin import read_builtin
from cnn_cli.data.csv_source import csv_row, read_csv_split
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.folder import folder_store
from cnn_cli.data.idx import find_pairs, pair_of, read_pair
from cnn_cli.data.npz import read_npz
from cnn_cli.data.store import Part, Store, raw_shape
from cnn_cli.errors import ConfigError, DataError


def expand(path: str) -> str:
    """A config path as used: `~` expanded, relative paths left relative to the working directory."""
    return os.path.expanduser(path)


AUTO_DISK_BYTES = 1_000_000_000  # data.cache: auto keeps array sources larger than this decoded on disk
STREAM_MIN_FILE_BYTES = 100_000_000  # ... and streams them into it from files this large (they may be that large)
ROWS = {"csv": csv_row, "idx": lambda i: f"item {i + 1}", "npz": lambda i: f"index {i}"}


def read_store(data: DataConfig, source: str = "<config file>", check=None) -> Store:
    """The store of the data section's source; `check(raw)` validates what a reader gave before it is kept."""
    check_data(data, source)
    if data.source == "folder":
        return folder_store(data, expand(data.path), source)
    entry = _entry(data, source) if data.cache in ("disk", "auto", "memory") else None
    opened = entry.open(mmap=data.cache != "memory") if entry is not None else None
    if opened is not None:
        images, meta = opened
        return _stored(images, meta, data.source, "memory (read from the cache)" if data.cache == "memory"
                       else f"cache {entry.images}")
    streamed = entry is not None and (data.cache != "auto" or _source_bytes(data, source) > STREAM_MIN_FILE_BYTES)
    raw = read_source(data, source, streamed=streamed)
    if check is not None:
        check(raw)
    shape = raw_shape(raw)
    to_disk = entry is not None and (data.cache == "disk" or (data.cache == "auto" and np.prod(shape) > AUTO_DISK_BYTES))
    writer = C.open_writer(entry, shape) if to_disk else None
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
        return _stored(writer.commit(meta), meta, data.source, f"cache {entry.images}")
    if entry is not None and data.cache == "memory":
        C.save_entry(entry, store.images, meta)  # kept in memory, and in the cache for the next run
    return store


def _source_bytes(data: DataConfig, source: str) -> int:
    return sum(os.stat(f).st_size for f in _source_files(data, source))


def _entry(data: DataConfig, source: str) -> C.Entry | None:
    """The cache entry of an npz, CSV or IDX source (built-in sets are not cached)."""
    files = _source_files(data, source)
    if not files or not all(Path(f).is_file() for f in files):
        return None
    settings = data.model_dump(include={"source", "npz_keys", "label_column", "image_shape"}, mode="json")
    return C.Entry(C.cache_root(), C.make_key(data.source, C.file_stamps(files), **settings))


def _source_files(data: DataConfig, source: str) -> list:
    path = expand(data.path) if data.path else None
    if data.source == "npz":
        return [path]
    if data.source == "csv":
        return [expand(f) for f in (data.train or path, data.validation, data.test) if f]
    if data.source == "idx":
        try:
            pairs = _idx_pairs(data, path, source)
        except (DataError, ConfigError):
            return []
        return [str(f) for pair in pairs.values() for f in pair]
    return []


def _stored(images, meta: dict, kind: str, where: str) -> Store:
    row = ROWS.get(kind, lambda i: f"row {i + 1}")
    parts = {name: Part(_positions(p), np.asarray(p["ids"]), p["origin"], row)
             for name, p in meta["parts"].items()}
    return Store(images=images, parts=parts, origin=meta["origin"], cache=where)


def _positions(part: dict) -> np.ndarray:
    """A part's positions in the images: a range [start, stop) (the splits of an array source follow each
    other), or a list (entries written before ranges)."""
    if "range" in part:
        return np.arange(*part["range"], dtype=np.int64)
    return np.asarray(part["positions"], dtype=np.int64)


def read_source(data: DataConfig, source: str = "<config file>", streamed: bool = False) -> Raw:
    """The source's splits; `streamed` (npz, CSV, IDX): their images are read later, a chunk at a time, into
    the array they go to (`Store.from_raw`), never whole on their own."""
    check_data(data, source)
    path = expand(data.path) if data.path else None
    if data.source in ("mnist", "fashion_mnist"):
        return read_builtin(data.source, path)
    if data.source == "npz":
        return read_npz(path, data.npz_keys, streamed=streamed)
    if data.source == "csv":
        return _read_csv(data, path, streamed)
    return _read_idx(data, path, source, streamed)


def _read_csv(data: DataConfig, path: str | None, streamed: bool = False) -> Raw:
    files = {"train": data.train or path, "validation": data.validation, "test": data.test}
    splits = {
        split: read_csv_split(expand(file), data.label_column, data.image_shape, streamed) if file else None
        for split, file in files.items()
    }
    named = ", ".join(f"{split} {expand(file)}" for split, file in files.items() if file)
    return Raw(train=splits["train"], validation=splits["validation"], test=splits["test"], origin=f"csv: {named}")


def _read_idx(data: DataConfig, path: str | None, source: str, streamed: bool = False) -> Raw:
    pairs = _idx_pairs(data, path, source)
    splits = {}
    for split, (images, labels) in pairs.items():
        x, y = read_pair(images, labels, streamed)
        splits[split] = RawSplit(x=x, ids=y, origin=str(labels), row=lambda i: f"item {i + 1}")
    named = ", ".join(f"{split} {images}" for split, (images, _) in pairs.items())
    return Raw(train=splits["train"], validation=splits.get("validation"), test=splits.get("test"), origin=f"idx: {named}")


def _idx_pairs(data: DataConfig, path: str | None, source: str) -> dict[str, tuple[Path, Path]]:
    pairs: dict[str, tuple[Path, Path]] = {}
    if data.train is None and Path(path).is_file():
        pairs["train"] = _pair(path, "data.path", source)
    elif data.train is None:
        if not Path(path).is_dir():
            raise DataError(path, "no such file or folder")
        pairs = find_pairs(Path(path))
        if "train" not in pairs:
            raise DataError(path, "no train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz] in this folder")
    for split in ("train", "validation", "test"):
        value = getattr(data, split)
        if value is not None:
            pairs[split] = _pair(value, f"data.{split}", source)
    return pairs


def _pair(value: str | IdxPair, key: str, source: str) -> tuple[Path, Path]:
    if isinstance(value, IdxPair):
        return Path(expand(value.images)), Path(expand(value.labels))
    file = Path(expand(value))
    if not file.is_file():
        raise DataError(value, "no such file" if not file.exists() else "not a file")
    pair = pair_of(file)
    if pair is None:
        raise ConfigError(
            source, key, "expected {images: FILE, labels: FILE}, or one IDX file whose partner has the same name "
            "with images/labels and idx3/idx1 swapped, beside it", value,
        )
    return pair
