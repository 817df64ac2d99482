"""Image files decoded into one uint8 array through the cache: the build that an image folder (`folder.py`)
and the files given to `cnn predict` (`decode_files`) share.

`build(...)` decodes the files in parallel (`decode.py`) straight into a new cache entry and commits it
(`cache: disk` or `auto`; `memory` then reads it into memory), or into memory without one (`off`).
`decode_files(...)` is what `cnn predict` uses: from `CACHE_MIN` files on, the decoded images are found in
(or kept in) the cache under a key of the files' paths, sizes and mtimes, the shape and the resize mode, so a
second prediction on the same folder opens no image file. Unreadable files are not errors here:
their rows are zeros and `Decoded.bad` says why, for the caller to report or skip.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_cli.data.cache import Entry, cache_root, file_stamps, human_bytes, make_key, open_writer
from cnn_cli.data.decode import decode_into

CACHE_MIN = 32  # image files from which `cnn predict` keeps the decoded images in the cache (and shows progress)


def build(files: list, shape: tuple[int, int, int], *, entry: Entry | None, cache: str, resize: str,
          skip_bad: bool, what: str | None, meta_of: Callable[[dict[int, str]], dict],
          echo: Callable[[str], None] = print) -> tuple[np.ndarray, dict, str]:
    """(images, meta, where) of `files` decoded into a new cache entry (disk, auto; memory, which then reads
    the entry into memory) or, without one (off, or a cache folder that cannot be written), into memory.
    `meta_of(bad)` is the entry's sidecar (given the rows left out); `echo` tells where the entry went."""
    full = (len(files), *shape)
    writer = open_writer(entry, full) if entry is not None and cache != "off" else None
    if writer is None:
        target = np.empty(full, dtype=np.uint8)
        bad = decode_into(target, files, shape, resize=resize, skip_bad=skip_bad, what=what)
        return target, meta_of(bad), "memory"
    try:  # decoding processes write their rows into the file themselves
        bad = decode_into(writer.images, files, shape, resize=resize, skip_bad=skip_bad, rows_file=writer.rows_file,
                          what=None if what is None else f"{what} into {entry.folder}")
    except BaseException:
        writer.abandon()
        raise
    meta = meta_of(bad)
    images = writer.commit(meta)
    echo(f"Cached {len(files):,} images ({human_bytes(entry.images.stat().st_size)}) in {entry.folder}")
    if cache == "memory":
        return np.array(images), meta, "memory"
    return images, meta, f"cache {entry.images}"


@dataclass
class Decoded:
    """Image files decoded: `images[i]` is `files[i]` (zeros where unreadable), `bad` {i: "FILE: reason"}."""

    images: np.ndarray
    bad: dict[int, str]


def decode_files(files: list[str], shape: tuple[int, int, int], *, resize: str = "stretch",
                 cache: str = "auto") -> Decoded:
    """The image files (paths that exist) decoded to `shape`: in parallel, through the cache from `CACHE_MIN`
    files on (`cache`: the run's data.cache; `off` never touches it). Progress and cache lines go to stderr."""
    many = len(files) >= CACHE_MIN
    entry = None
    if many and cache != "off":
        key = make_key("files", file_stamps(files), shape=list(shape), resize=resize)
        entry = Entry(cache_root(), key)
        opened = entry.open(mmap=cache != "memory")
        if opened is not None:
            images, meta = opened
            return Decoded(images, {int(k): v for k, v in meta["bad"].items()})

    def meta_of(bad: dict[int, str]) -> dict:
        return {"shape": [len(files), *shape], "bad": {str(k): v for k, v in bad.items()},
                "origin": f"{len(files):,} image files for cnn predict, from {Path(files[0]).parent}"}

    what = f"Decoding {len(files):,} images" if many else None
    images, meta, _ = build(files, tuple(shape), entry=entry, cache=cache, resize=resize, skip_bad=True,
                            what=what, meta_of=meta_of, echo=lambda line: print(line, file=sys.stderr, flush=True))
    return Decoded(images, {int(k): v for k, v in meta["bad"].items()})
