"""The decoded-image cache: one `.npy` file of uint8 images per data set and decoding settings, with a JSON
sidecar, in the cache folder (`--cache-dir`, else `CNN_CACHE_DIR`, else `$XDG_CACHE_HOME/cnn`, else
`~/.cache/cnn`).

An entry is the folder `<cache>/<key>/` holding `images.npy` and `meta.json`. The key is a hash of the
source's files (paths, sizes, mtimes) and of everything that changes the decoded pixels (target shape,
resize mode, bad-image mode), so a changed, added or removed file makes another key. An entry is built under
temporary names (`*.tmp-<pid>`), its space reserved up front (`posix_fallocate`: a full disk fails before
any decoding, never half-way through a memory map), and committed by renaming the images first and the
sidecar last. Opening an entry checks the sidecar's key, the file's size, the `.npy` header's shape and dtype
against the sidecar; anything else is not trusted: the entry is removed and rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnn_cli.number_format import human_bytes  # noqa: F401  (re-exported: cnn cache, the folder reader)

FORMAT = 1
IMAGES, META = "images.npy", "meta.json"
ENV = "CNN_CACHE_DIR"


def cache_root() -> Path:
    """The cache folder: CNN_CACHE_DIR, else $XDG_CACHE_HOME/cnn, else ~/.cache/cnn."""
    explicit = os.environ.get(ENV)
    if explicit:
        return Path(explicit).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnn"


def file_stamps(files) -> list[list]:
    """[path, size, mtime_ns] of each file, the part of a key that notices a changed or replaced file."""
    stamps = []
    for file in files:
        stat = os.stat(file)
        stamps.append([str(Path(file).resolve()), stat.st_size, stat.st_mtime_ns])
    return stamps


def make_key(kind: str, stamps: list[list], **settings) -> str:
    """A hex digest of the source kind, its files' stamps and the decoding settings."""
    text = json.dumps({"format": FORMAT, "kind": kind, "files": stamps, "settings": settings}, sort_keys=True,
                      default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class Entry:
    """One cache entry: `<root>/<key>/images.npy` and `meta.json`."""

    root: Path
    key: str

    @property
    def folder(self) -> Path:
        return self.root / self.key

    @property
    def images(self) -> Path:
        return self.folder / IMAGES

    @property
    def meta(self) -> Path:
        return self.folder / META

    def open(self, mmap: bool = True) -> tuple[np.ndarray, dict] | None:
        """(images, sidecar) of a complete, intact entry (memory-mapped, or read into memory); None when there
        is none; a damaged one is removed (and None returned) so that it is rebuilt."""
        if not self.meta.is_file():
            if self.folder.is_dir():
                self.remove()  # a build that never committed
            return None
        try:
            meta = json.loads(self.meta.read_text())
            shape = tuple(meta["shape"])
            expected = int(meta["header_bytes"]) + int(np.prod(shape))
            if meta.get("key") != self.key or meta.get("format") != FORMAT or self.images.stat().st_size != expected:
                raise ValueError("size or key")
            images = np.load(self.images, mmap_mode="r" if mmap else None, allow_pickle=False)
            if images.shape != shape or images.dtype != np.uint8:
                raise ValueError("shape")
            return images, meta
        except (OSError, ValueError, KeyError, TypeError):
            _warn(f"{self.folder}: damaged cache entry; rebuilding it")
            self.remove()
            return None

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


class Writer:
    """A cache entry being built: `images` is a writable memory map of the temporary `.npy` file, its whole
    size reserved on disk. `commit(meta)` makes the entry; `abandon()` removes the temporary files."""

    def __init__(self, entry: Entry, shape: tuple[int, ...]):
        self.entry = entry
        entry.folder.mkdir(parents=True, exist_ok=True)
        self.tmp = entry.folder / f"{IMAGES}.tmp-{os.getpid()}"
        header = {"descr": "|u1", "fortran_order": False, "shape": tuple(int(d) for d in shape)}
        try:
            with open(self.tmp, "wb") as out:
                np.lib.format.write_array_header_1_0(out, header)
                self.header_bytes = out.tell()
                size = self.header_bytes + int(np.prod(shape))
                if size > self.header_bytes:
                    os.posix_fallocate(out.fileno(), 0, size)
            self.images = np.memmap(self.tmp, dtype=np.uint8, mode="r+", offset=self.header_bytes, shape=tuple(shape))
        except BaseException:
            self.abandon()
            raise

    @property
    def rows_file(self) -> tuple[str, int]:
        """(path, byte offset) of the rows being written: for decoding processes that map the file themselves."""
        return str(self.tmp), self.header_bytes

    def commit(self, meta: dict) -> np.ndarray:
        """Writes the sidecar and renames both into place; returns the images, memory-mapped read-only."""
        self.images.flush()
        del self.images
        meta = {**meta, "format": FORMAT, "key": self.entry.key, "header_bytes": self.header_bytes}
        meta_tmp = self.entry.folder / f"{META}.tmp-{os.getpid()}"
        meta_tmp.write_text(json.dumps(meta))
        os.replace(self.tmp, self.entry.images)
        os.replace(meta_tmp, self.entry.meta)
        return np.load(self.entry.images, mmap_mode="r", allow_pickle=False)

    def abandon(self) -> None:
        self.__dict__.pop("images", None)
        for path in self.entry.folder.glob("*.tmp-*"):
            path.unlink(missing_ok=True)
        try:
            self.entry.folder.rmdir()  # only when empty
        except OSError:
            pass


def open_writer(entry: Entry, shape: tuple[int, ...]) -> Writer | None:
    """A new entry of `shape` to write images into; None, with one warning line, when the cache folder cannot
    be written or the disk is too full (the caller keeps the images in memory instead)."""
    try:
        return Writer(entry, shape)
    except OSError as exc:
        _warn(cannot_write(entry.root, exc))
        return None


def save_entry(entry: Entry, images: np.ndarray, meta: dict) -> bool:
    """Writes an in-memory array as a cache entry; False (with one warning line) when it cannot be written."""
    writer = open_writer(entry, images.shape)
    if writer is None:
        return False
    try:
        writer.images[:] = images
        writer.commit({**meta, "shape": list(images.shape)})
        return True
    except OSError as exc:
        writer.abandon()
        _warn(cannot_write(entry.root, exc))
        return False


def cannot_write(root: Path, exc: OSError) -> str:
    why = exc.strerror or str(exc)
    return f"{root}: cannot write the image cache ({why}); keeping the images in memory instead"


def _warn(line: str) -> None:
    print(f"Warning: {line}", file=sys.stderr, flush=True)


def list_entries(root: Path | None = None) -> list[dict]:
    """The complete entries under the cache folder: key, folder, size in bytes, image count and shape, source."""
    root = root or cache_root()
    found = []
    for meta_file in sorted(root.glob(f"*/{META}")) if root.is_dir() else []:
        folder = meta_file.parent
        try:
            meta = json.loads(meta_file.read_text())
        except (OSError, ValueError):
            meta = {}
        size = sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
        found.append({"key": folder.name, "folder": str(folder), "bytes": size, "shape": meta.get("shape"),
                      "origin": meta.get("origin", "?")})
    return found


def clear_entries(root: Path | None = None) -> tuple[int, int]:
    """Removes every entry (and half-built one) under the cache folder: (entries removed, bytes freed)."""
    root = root or cache_root()
    count = freed = 0
    for folder in sorted(root.iterdir()) if root.is_dir() else []:
        if folder.is_dir() and len(folder.name) == 32:
            freed += sum(f.stat().st_size for f in folder.iterdir() if f.is_file())
            shutil.rmtree(folder, ignore_errors=True)
            count += 1
    return count, freed
