"""Folders of images (`source: folder`; `--data` of any folder that no other source takes), one subfolder per class: `path/<class>/*.png|jpg|jpeg`, or split folders
`path/train/<class>/...` with `path/test/...` and `path/validation/...` (or `valid/`, `val/`) beside it.

Class ids are the subfolder names, sorted naturally ("2" before "10"). Every image is turned upright (EXIF),
converted to grayscale (1 channel), RGB (3) or RGBA (4) and resized (bilinear, `data.resize`) to
`data.image_shape`; without it, the first image of the first training class sets the size, and the channels
(1 for a grayscale image, else 3).

The files are decoded once, in parallel (`decode.py`), straight into the store's one array: the cache file
(`data.cache: disk`, and `auto`), or memory (`memory`, which also reads and writes the cache file; `off`,
which does neither). A second run with the same files and settings opens the cache and decodes nothing.
With `data.bad_images: skip` an unreadable file is left out and listed (`Store.skipped`).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
from natsort import natsorted

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.folder import Folder
from cnn_cli.data.cache import Entry, cache_root, file_stamps, make_key
from cnn_cli.data.dataset import Raw
from cnn_cli.data.files import build
from cnn_cli.data.images import MODES, image_shape_of
from cnn_cli.data.sources.base import DataSource, Detected, expand_user, with_source
from cnn_cli.data.store import Part, Store
from cnn_cli.errors import ConfigError, DataError

EXTENSIONS = (".png", ".jpg", ".jpeg")
SPLIT_FOLDERS = {"train": ("train",), "validation": ("validation", "valid", "val"), "test": ("test",)}


class FolderSource(DataSource):
    """Decodes into its store itself (the cache keyed by the files, the shape, the resize and bad-image
    settings); errors name an example by its file."""

    schema = Folder
    detects: ClassVar[str] = "a folder of images"
    detect_order: ClassVar[int] = 1000  # any folder: tried last

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        return (with_source(base, self.name, path=given), []) if path.is_dir() else None

    def store(self, data: DataConfig, source: str, check: Callable[[Raw], None] | None = None) -> Store:
        return folder_store(data, expand_user(data.path), source)


def folder_store(data: DataConfig, path: str, source: str = "<config file>") -> Store:
    """The store of the image folder at `path`, from the cache when it holds these files decoded so."""
    listing = list_folder(path)
    shape = data.image_shape
    if shape is not None and shape[2] not in MODES:
        raise ConfigError(source, "data.image_shape", "expected 1, 3 or 4 channels for images read from a folder", list(shape))
    files = [f for _, by_class in listing for images in by_class.values() for f in images]
    # One entry per set of decoded images: the key is the files and how they are decoded (the shape and the
    # resize), not the config that asked. A shape the first image gave ("auto") and the same shape given by a
    # config are one decoding: a miss under one looks under the other before decoding again. Unreadable files are
    # left out in the entry whatever data.bad_images says, and refused below when it says error.
    store = entry = None
    if data.cache != "off":
        stamps = file_stamps(files)
        entry = Entry(cache_root(), make_key("folder", stamps, shape=list(shape) if shape else "auto", resize=data.resize))
        store = _opened(entry, data)
        if store is None and files:
            actual = tuple(shape) if shape is not None else image_shape_of(files[0])
            other = Entry(cache_root(), make_key("folder", stamps, shape="auto" if shape else list(actual),
                                                 resize=data.resize))
            store = _opened(other, data)
            if store is not None and store.image_shape != actual:
                store = None
            shape = actual
    if store is None:
        shape = tuple(shape) if shape is not None else image_shape_of(files[0])
        store = _build(listing, files, shape, data, path, entry)
    _name_sources(store, listing, path)
    if store.skipped and data.bad_images == "error":
        order = {str(f): k for k, f in enumerate(files)}
        found = []  # (position in file order, file, reason) of each unreadable file
        for entry_text in store.skipped:
            cuts = [i for i in range(len(entry_text)) if entry_text.startswith(": ", i)]
            file = next((entry_text[:i] for i in cuts if entry_text[:i] in order), entry_text.split(": ")[0])
            found.append((order.get(file, len(order)), file, entry_text[len(file) + 2:]))
        _, file, reason = min(found)
        raise DataError(file, f"{reason} (data.bad_images: skip leaves such files out)")
    return store


def _opened(entry: Entry, data: DataConfig) -> Store | None:
    opened = entry.open(mmap=data.cache != "memory")
    if opened is None:
        return None
    images, meta = opened
    return _from_meta(images, meta, entry, memory=data.cache == "memory")


def _name_sources(store: Store, listing, path: str) -> None:
    """Each part's sources from this listing's split folders, as this command spells them (a cache entry made
    from another spelling of the path holds that one)."""
    roots = {split: (Path(path) if split == "train" and len(listing) == 1 else None) for split, _ in listing}
    for split, by_class in listing:
        files = [f for fs in by_class.values() for f in fs]
        if roots[split] is None and files:
            roots[split] = files[0].parent.parent
    for split, part in store.parts.items():
        names, root = getattr(part.source, "names", None), roots.get(split)
        if names is not None and root is not None:
            part.source = _Sources(names, str(root))


class _Sources:
    """A part's sources: its files' paths under its folder (`names` relative to it)."""

    def __init__(self, names: list[str], folder: str):
        self.names, self.folder = names, folder

    def __call__(self, i: int) -> str:
        return os.path.join(self.folder, self.names[i])


def list_folder(path: str) -> list[tuple[str, dict[str, list[Path]]]]:
    """[(split, {class: [files]})]: the split folders (or the folder as the training split) and their images."""
    root = Path(path)
    if not root.is_dir():
        raise DataError(path, "no such folder" if not root.exists() else "not a folder")
    folders = {"train": root, "validation": None, "test": None}
    subfolders = {d.name for d in _subfolders(root)}
    known = {name for names in SPLIT_FOLDERS.values() for name in names}
    if "train" in subfolders and subfolders <= known:
        for split, names in SPLIT_FOLDERS.items():
            folders[split] = next((root / n for n in names if n in subfolders), None)
    return [(split, _class_files(folder)) for split, folder in folders.items() if folder is not None]


def _build(listing, files: list[Path], shape: tuple[int, int, int], data: DataConfig, path: str,
           entry: Entry | None) -> Store:
    """Decodes every file into the cache file (disk, auto) or memory, and commits the cache entry."""
    images, meta, where = build(
        files, shape, entry=entry, cache=data.cache, resize=data.resize, skip_bad=True,
        what=f"Decoding {len(files):,} images from {path}",
        meta_of=lambda bad: _meta(listing, files, bad, shape, path, data.resize),
        echo=lambda line: print(line, flush=True))
    return _store(images, meta, where)


def _meta(listing, files: list[Path], bad: dict[int, str], shape, path: str, resize: str) -> dict:
    parts, start = {}, 0
    for split, by_class in listing:
        folder = Path(path) if split == "train" and len(listing) == 1 else files[start].parent.parent
        rows = [(start + k, name, f) for k, (name, f) in enumerate((n, f) for n, fs in by_class.items() for f in fs)]
        kept = [(i, name, f) for i, name, f in rows if i not in bad]
        parts[split] = {"positions": [i for i, _, _ in kept], "ids": [name for _, name, _ in kept],
                        "files": [str(f.relative_to(folder)) for _, _, f in kept], "origin": str(folder)}
        start += len(rows)
    h, w, c = shape
    return {"shape": [len(files), *shape], "parts": parts, "skipped": list(bad.values()),
            "origin": f"image folder {path} (resized to {h}x{w}, {MODES[c]}, {resize})"}


def _from_meta(images: np.ndarray, meta: dict, entry: Entry, memory: bool) -> Store:
    where = "memory (read from the cache)" if memory else f"cache {entry.images}"
    return _store(images, meta, where)


def _store(images: np.ndarray, meta: dict, where: str) -> Store:
    parts = {}
    for split, part in meta["parts"].items():
        names = part["files"]
        parts[split] = Part(np.asarray(part["positions"], dtype=np.int64), np.array(part["ids"], dtype=object),
                            part["origin"], row=lambda i, names=names: names[i], source=_Sources(names, part["origin"]))
    return Store(images=images, parts=parts, origin=meta["origin"], skipped=list(meta.get("skipped", [])), cache=where)


def _subfolders(folder: Path) -> list[Path]:
    return natsorted((d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name)


def _class_files(folder: Path) -> dict[str, list[Path]]:
    classes = _subfolders(folder)
    if not classes:
        raise DataError(str(folder), "no class subfolders; expected <folder>/<class>/*.png|jpg|jpeg")
    found = {}
    for cls in classes:
        images = natsorted((f for f in cls.iterdir() if f.is_file() and f.suffix.lower() in EXTENSIONS), key=lambda f: f.name)
        if not images:
            raise DataError(str(cls), "empty class folder: no .png, .jpg or .jpeg images")
        found[cls.name] = images
    return found

