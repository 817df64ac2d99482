"""CSV files in the Sign Language MNIST layout: a header line, a label column (`data.label_column`) and one
column per pixel (all the other columns, row-major, H*W*C of them), integers 0..255. `read_frame` and
`pixels_uint8` also read the CSV inputs of `cnn predict`, so both report a bad cell the same way. `source: csv`;
`--data FILE.csv` is the training split (the config's validation and test files kept when its source is csv
too and they exist). `CsvImages` streams a file's pixels into the cache.

Errors name the file and the first bad cell as `row R (line L)`: R counts data rows from 1, L is the line
of the file (the header is line 1, so L = R + 1).
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path
from typing import ClassVar

import numpy as np
import pandas as pd

from cnn_cli.config.data import DataConfig
from cnn_cli.config.sources.csv import Csv
from cnn_cli.data import streams
from cnn_cli.data.dataset import Raw, RawSplit
from cnn_cli.data.sources.base import DataSource, Detected, expand_user, with_source
from cnn_cli.data.streams import CSV_READ, csv_errors, csv_header, rows_per_chunk
from cnn_cli.errors import DataError

DEFAULT_SHAPE = (28, 28, 1)


def csv_row(position: int) -> str:
    return f"row {position + 1} (line {position + 2})"


class CsvSource(DataSource):
    schema = Csv
    suffixes: ClassVar[tuple[str, ...]] = (".csv",)
    detect_order: ClassVar[int] = 30
    row = staticmethod(csv_row)

    def detect(self, path: Path, given: str, base: DataConfig | None) -> Detected | None:
        if not (path.is_file() and path.suffix.lower() in self.suffixes):
            return None
        kept, notes = {}, []
        if base is not None and base.source == self.name:
            for key in ("validation", "test"):
                file = getattr(base, key)
                if isinstance(file, str) and Path(os.path.expanduser(file)).is_file():
                    kept[key] = file
                elif file is not None:
                    notes.append(f"the config's {key} file {file} is not there and not used")
        return with_source(base, self.name, train=given, **kept), notes

    def files(self, data: DataConfig, source: str) -> list[str]:
        return [expand_user(f) for f in self._files(data).values() if f]

    @staticmethod
    def _files(data: DataConfig) -> dict:
        return {"train": data.train or (expand_user(data.path) if data.path else None), "validation": data.validation,
                "test": data.test}

    def read(self, data: DataConfig, source: str, streamed: bool = False) -> Raw:
        files = self._files(data)
        splits = {
            split: read_csv_split(expand_user(file), data.label_column, data.image_shape, streamed) if file else None
            for split, file in files.items()
        }
        named = ", ".join(f"{split} {expand_user(file)}" for split, file in files.items() if file)
        return Raw(train=splits["train"], validation=splits["validation"], test=splits["test"], origin=f"csv: {named}")


def read_csv_split(path: str, label_column: str = "label", image_shape: tuple[int, int, int] | None = None,
                   streamed: bool = False) -> RawSplit:
    """Images (N, H, W, C) uint8 and label ids of one CSV file; `streamed`: the images are read later, a chunk
    at a time, into the array they go to (`CsvImages`), and only the labels now."""
    shape = tuple(image_shape or DEFAULT_SHAPE)
    if streamed:
        return _streamed_split(path, label_column, shape)
    frame = read_frame(path)
    _check_columns(path, list(frame.columns), label_column, shape, pixels=False)
    if len(frame) == 0:
        raise DataError(path, "no data rows, only a header line")
    labels = frame[label_column]
    _check_labels(path, labels.to_numpy(), label_column)
    _check_columns(path, list(frame.columns), label_column, shape)
    x = pixels_uint8(frame.drop(columns=[label_column]), path).reshape((len(frame), *shape))
    return RawSplit(x=x, ids=labels.to_numpy(), origin=path, row=csv_row)


def _streamed_split(path: str, label_column: str, shape: tuple[int, int, int]) -> RawSplit:
    """The labels, from a pass over the label column alone (pandas `usecols`: the pixel cells are converted once,
    by `CsvImages.fill`). That pass tells labelled rows from rows whose label is empty, but not a blank line
    (every cell empty: left out at the end of the file) from a row with pixel values and no label (an error):
    `fill`, which reads every cell, checks that the rows after the last labelled one are blank. Only a file
    with no label at all is read whole here, to tell "no data rows" from an empty label in row 1.

    A label-only pass does not see a line with too many cells: before an error of its own, the file is parsed
    whole, so that pandas' error comes first, as from a reader of every cell."""

    _existing(path)
    columns = csv_header(path)
    rows = rows_per_chunk((0, *shape))  # the chunks `fill` reads: pandas infers a column's dtype chunk by chunk
    if label_column not in columns:
        _parse(path, rows, chunks=1)  # as a reader that checks the header after the first chunk
        _check_columns(path, columns, label_column, shape, pixels=False)
    ids = [chunk[label_column].to_numpy() for chunk in streams.csv_chunks(path, rows, usecols=[label_column])]
    labels = np.concatenate(ids) if ids else np.zeros(0)
    labelled = ~pd.isna(labels)
    end = len(labels) - int(np.argmax(labelled[::-1])) if labelled.any() else 0
    try:
        if end == 0 and len(labels) and not _all_blank(path, rows):
            raise empty_label(path, 0, label_column)
        if end == 0:
            raise DataError(path, "no data rows, only a header line")
        _check_labels(path, labels[:end], label_column)
        _check_columns(path, columns, label_column, shape)
    except DataError:
        _parse(path, rows)
        raise
    return RawSplit(x=CsvImages(path, label_column, shape, end, tail=end < len(labels)), ids=labels[:end],
                    origin=path, row=csv_row)


def _parse(path: str, rows: int, chunks: int | None = None) -> None:
    """pandas' error (as `csv_errors` words it) if the file's first `chunks` chunks (all: None) do not parse."""

    for _ in itertools.islice(streams.csv_chunks(path, rows), chunks):
        pass


def _all_blank(path: str, rows: int) -> bool:
    """Whether every data row of the file is a blank line (all its cells empty)."""

    return all(chunk.isna().all(axis=None) for chunk in streams.csv_chunks(path, rows))


def _check_columns(path: str, columns: list, label_column: str, shape, pixels: bool = True) -> None:
    """The label column is there (checked first), and (once the rows are) one pixel column per pixel."""
    if label_column not in columns:
        shown = ", ".join(repr(str(c)) for c in columns[:5]) + (", ..." if len(columns) > 5 else "")
        raise DataError(path, f"no label column {label_column!r} (data.label_column); the header starts {shown}")
    expected = int(np.prod(shape))
    if pixels and len(columns) - 1 != expected:
        raise DataError(
            path, f"{len(columns) - 1} pixel columns (every column but {label_column!r}), expected {expected} for "
            f"image_shape {'x'.join(map(str, shape))} (data.image_shape)",
        )


def _check_labels(path: str, labels: np.ndarray, label_column: str) -> None:
    missing = pd.isna(labels)
    if missing.any():
        raise empty_label(path, int(np.argmax(missing)), label_column)


def empty_label(path: str, position: int, label_column: str) -> DataError:
    """The error of a data row (0-based `position`) whose label cell is empty."""
    return DataError(path, f"{csv_row(position)}, column {label_column!r}: empty label cell")


def _existing(path: str) -> None:
    file = Path(path)
    if not file.is_file():
        raise DataError(path, "no such file" if not file.exists() else "not a file")


def read_frame(path: str) -> pd.DataFrame:
    """The CSV file as a frame (blank lines at its end dropped); unreadable is one line naming the file."""

    _existing(path)
    with csv_errors(path):
        frame = pd.read_csv(Path(path), **CSV_READ, low_memory=False)
    blank = frame.isna().all(axis=1).to_numpy()
    end = len(frame)
    while end and blank[end - 1]:  # blank lines at the end of the file
        end -= 1
    return frame.iloc[:end]


def pixels_uint8(pixels: pd.DataFrame, path: str, offset: int = 0) -> np.ndarray:
    """The pixel cells as uint8; the first non-numeric, empty, fractional or out-of-range cell is an error
    (its row counted from `offset`: the frame's first row is the file's data row offset + 1)."""
    text_columns = [c for c, dtype in zip(pixels.columns, pixels.dtypes) if dtype.kind not in "iufb"]
    if text_columns:
        first = None
        for column in text_columns:
            cells = pixels[column]
            bad = (pd.to_numeric(cells, errors="coerce").isna() & cells.notna()).to_numpy()
            if bad.any():
                position = int(np.argmax(bad))
                if first is None or position < first[0]:
                    first = (position, column, cells.iloc[position])
        if first is not None:
            position, column, value = first
            raise DataError(path, f"{csv_row(position + offset)}, column {str(column)!r}: not a number: {str(value)!r}")
        pixels = pixels.apply(pd.to_numeric)
    values = pixels.to_numpy()
    if values.dtype.kind in "iub" and (len(values) == 0 or (values.min() >= 0 and values.max() <= 255)):
        return values.astype(np.uint8)
    values = values.astype(np.float64)
    empty = np.isnan(values)
    bad = empty | (values < 0) | (values > 255) | (values != np.round(values))
    if not bad.any():
        return values.astype(np.uint8)
    row, col = (int(i) for i in np.argwhere(bad)[0])
    column = str(pixels.columns[col])
    if empty[row, col]:
        raise DataError(path, f"{csv_row(row + offset)}, column {column!r}: empty or NaN cell")
    value = values[row, col]
    shown = int(value) if value == round(value) else value
    raise DataError(path, f"{csv_row(row + offset)}, column {column!r}: pixel value {shown} is not an integer 0..255")


class CsvImages:
    """The pixel columns of a CSV file (N, H, W, C) uint8: its first `count` rows, converted a chunk at a time
    when `fill` is called; `tail`: rows follow them, to be checked blank (every cell empty) as they are read."""

    def __init__(self, path: str, label_column: str, shape: tuple[int, int, int], count: int, tail: bool = False):
        self.path, self.label_column, self.count, self.tail = path, label_column, count, tail
        self.shape = (count, *shape)

    def __len__(self) -> int:
        return self.count

    def fill(self, out: np.ndarray) -> None:
        """The pixels into `out`. The errors come in the order of a reader that parses the whole file, then
        checks the labels, then the pixels: a bad cell is raised once the rest of the file has parsed and its
        last rows have been seen blank."""
        start, bad_cell = 0, None
        for chunk in streams.csv_chunks(self.path, rows_per_chunk(self.shape)):
            rows = chunk.iloc[:self.count - start]
            if len(rows) and bad_cell is None:
                try:
                    pixels = pixels_uint8(rows.drop(columns=[self.label_column]), self.path, offset=start)
                except DataError as exc:
                    bad_cell = exc
                else:
                    out[start:start + len(rows)] = pixels.reshape((len(rows), *self.shape[1:]))
            start += len(rows)
            if not chunk.iloc[len(rows):].isna().all(axis=None):  # a row after the last label holds a value
                raise empty_label(self.path, self.count, self.label_column)
            if start == self.count and not self.tail:
                break
        if bad_cell is not None:
            raise bad_cell
