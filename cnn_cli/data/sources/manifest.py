"""A manifest of image paths and labels (`source: manifest`; the keys and the task the columns say are in
`cnn_cli.config.sources.manifest`). The images are decoded as a folder's are (`files.build`: in parallel,
into the cache, keyed by the image files' stamps and the decoding settings: the labels and splits are read
from the manifest each time, so that relabelling decodes nothing).

The labels, by what the label columns hold: one column gives one id per image (classification; a number per
image for regression); labels joined by `data.label_separator` (or JSON lists) give multi-hot rows named by
the labels found (sorted naturally); several columns give rows of numbers named by the columns (0/1 for
multilabel). A missing image file, an empty label cell, a cell that is not a number where numbers are needed:
one line naming the manifest and its line.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import ClassVar

import numpy as np
from natsort import natsorted

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.manifest import (
    SPLIT_COLUMN,
    SPLIT_VALUES,
    SUFFIXES,
    Manifest,
    empty,
    image_column,
    label_columns,
    names_an_image_column,
    number,
    read_manifest,
    several,
)
from cnn_cli.data.cache import Entry, cache_root, file_stamps, make_key
from cnn_cli.data.dataset import Raw
from cnn_cli.data.files import build
from cnn_cli.data.images import MODES, image_shape_of
from cnn_cli.data.sources.base import DataSource, Detected, expand_user, with_source
from cnn_cli.data.store import Part, Store
from cnn_cli.errors import ConfigError, DataError


class ManifestSource(DataSource):
    """Decodes into its store itself; errors name an example by its manifest line and image file. `--data` of a
    .jsonl or .json file, or of a .csv file whose header names an image column (path, image, filename, file),
    is a manifest (before `csv`, which takes any .csv file)."""

    schema = Manifest
    detects: ClassVar[str] = "a manifest (.csv with a path, image, filename or file column; .jsonl; .json)"
    detect_order: ClassVar[int] = 25

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        if not path.is_file() or path.suffix.lower() not in SUFFIXES:
            return None
        if path.suffix.lower() == ".csv" and not names_an_image_column(path):
            return None
        return with_source(base, self.name, path=given), []

    def store(self, data: DataConfig, source: str, check: Callable[[Raw], None] | None = None) -> Store:
        return manifest_store(data, expand_user(data.path), source)


def manifest_store(data: DataConfig, path: str, source: str = "<config file>") -> Store:
    table = read_manifest(path)
    image = image_column(table, data.image_column)
    columns = label_columns(table, image, data.label_columns)
    folder = Path(path).parent
    files, lines, splits = [], [], []
    for where, row in table.rows:
        cell = row.get(image)
        if empty(cell) or not isinstance(cell, str):
            raise DataError(path, f"{where}, column {image!r}: empty image path")
        file = Path(cell).expanduser()
        file = file if file.is_absolute() else folder / file
        if not file.is_file():
            raise DataError(path, f"{where}: no such image file {cell} ({file})")
        split = row.get(SPLIT_COLUMN)
        split = "train" if empty(split) else str(split).strip().lower()
        if split not in SPLIT_VALUES:
            raise DataError(path, f"{where}, column {SPLIT_COLUMN!r}: expected train, validation or test, found {split!r}")
        for column in columns:
            if empty(row.get(column)):
                raise DataError(path, f"{where}, column {column!r}: empty label cell")
        files.append(file)
        lines.append(where)
        splits.append(split)
    ids, names = _labels(table, columns, data.label_separator)
    shape = data.image_shape
    if shape is not None and shape[2] not in MODES:
        raise ConfigError(source, "data.image_shape", "expected 1, 3 or 4 channels for images read from files",
                          list(shape))
    # The cache holds the images only, keyed by the image files (their order, sizes and times) and the decoding
    # settings: the labels and splits are read from the manifest every time, so relabelling decodes nothing.
    settings = {"shape": list(shape) if shape else "auto", "resize": data.resize}
    entry = None
    if data.cache != "off":
        entry = Entry(cache_root(), make_key("manifest", file_stamps(files), **settings))
        opened = entry.open(mmap=data.cache != "memory")
        if opened is not None:
            images, meta = opened
            where = "memory (read from the cache)" if data.cache == "memory" else f"cache {entry.images}"
            return _store(images, meta, where, data, path, files, lines, splits, ids, names)
    shape = tuple(shape) if shape is not None else image_shape_of(files[0])

    def meta_of(bad: dict[int, str]) -> dict:
        h, w, c = shape
        return {"shape": [len(files), *shape], "bad": [[i, reason] for i, reason in sorted(bad.items())],
                "origin": f"manifest {path} ({len(files):,} images resized to {h}x{w}, {MODES[c]}, {data.resize})"}

    # unreadable images are found whatever data.bad_images says (their rows stay zeros), so that an error names
    # the manifest's line, and one cache entry serves both settings
    images, meta, where = build(
        files, shape, entry=entry, cache=data.cache, resize=data.resize, skip_bad=True,
        what=f"Decoding {len(files):,} images listed in {path}", meta_of=meta_of,
        echo=lambda line: print(line, flush=True))
    return _store(images, meta, where, data, path, files, lines, splits, ids, names)


def _store(images: np.ndarray, meta: dict, where: str, data: DataConfig, path: str, files: list[Path],
           lines: list[str], splits: list[str], ids: list, names: list[str] | None) -> Store:
    """The store of the decoded images with the manifest's splits and labels; an unreadable image (`meta`'s
    `bad` rows) is a DataError naming its line, or, with `data.bad_images: skip`, left out and listed."""
    bad = {int(i): reason for i, reason in meta.get("bad", [])}
    if bad and data.bad_images == "error":
        first = min(bad)
        raise DataError(path, f"{lines[first]}: image {files[first]}: {bad[first].removeprefix(f'{files[first]}: ')}")
    parts = {}
    for split in SPLIT_VALUES:
        kept = [i for i, s in enumerate(splits) if s == split and i not in bad]
        if not kept and split != "train":
            continue
        rows = [f"{lines[i]} ({files[i].name})" for i in kept]
        values = [ids[i] for i in kept]
        array = np.array(values, dtype=object) if values and isinstance(values[0], str) else np.asarray(values)
        shown = [str(files[i]) for i in kept]
        parts[split] = Part(np.asarray(kept, dtype=np.int64), array if values else np.zeros((0,)), path,
                            row=lambda i, rows=rows: rows[i], source=lambda i, shown=shown: shown[i])
    return Store(images=images, parts=parts, origin=meta["origin"], skipped=[bad[i] for i in sorted(bad)],
                 cache=where, names=names)


def _labels(table, columns: list[str], separator: str) -> tuple[list, list[str] | None]:
    """Each row's label id (one column), multi-hot row (labels joined in one column) or row of numbers
    (several columns), and the names of a row's entries (None: one id per row)."""
    path = table.path
    if len(columns) == 1:
        column = columns[0]
        cells = [row[column] for _, row in table.rows]
        if any(several(v, separator) for v in cells):
            split = [_split(v, separator) for v in cells]
            names = natsorted({label for labels in split for label in labels})
            index = {name: i for i, name in enumerate(names)}
            rows = []
            for labels in split:
                hot = [0] * len(names)
                for label in labels:
                    hot[index[label]] = 1
                rows.append(hot)
            return rows, names
        values = [number(v) for v in cells]
        if all(v is not None for v in values):
            if all(float(v).is_integer() for v in values):
                return [int(v) for v in values], [column]
            return [float(v) for v in values], [column]
        return [str(v).strip() for v in cells], [column]
    rows = []
    for where, row in table.rows:
        values = []
        for column in columns:
            value = number(row[column])
            if value is None or not np.isfinite(value):
                raise DataError(path, f"{where}, column {column!r}: not a number: {row[column]!r}")
            values.append(value)
        rows.append(values)
    return rows, list(columns)


def _split(value, separator: str) -> list[str]:
    labels = value if isinstance(value, list) else str(value).split(separator)
    return [str(label).strip() for label in labels if str(label).strip()]
