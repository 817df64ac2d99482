"""Array sources read a piece at a time, for data larger than memory: the images of one IDX file, one .npz
member or one CSV file, known by their count and shape first (`len`, `.shape`, from the headers), then
written chunk by chunk into a part of a preallocated array (`fill(out)`): the cache file's memory map or one
array in memory, never a whole split decoded on its own beside it.

- `idx.IdxImages` (with the IDX format's other code): the IDX header, then the body read (gunzipped on the
  fly) straight into the target.
- `NpzImages`: the member's `.npy` header through `zipfile` (`np.load(mmap_mode=...)` does not map .npz
  members, stored or compressed), then its rows a chunk at a time, checked and converted as `arrays.as_images`
  does; an array this cannot stream (Fortran order, objects, another rank) is read whole, as before.
- `CsvImages`: a first pass over the file's label column alone (pandas, `chunksize`, `usecols`:
  `csv_source`) counts the rows and reads the labels; `fill` is a second pass that converts the pixel cells
  chunk by chunk and checks that the rows after the last labelled one are blank lines.

Each gives exactly the pixels and the errors of the whole-file readers (`idx.read_idx`, `arrays.as_images`,
`csv_source.read_csv_split`).
"""

from __future__ import annotations

import contextlib
import zipfile
from pathlib import Path

import numpy as np

from cnn_cli.data.arrays import as_images
from cnn_cli.errors import DataError

CHUNK_BYTES = 32 * 2**20  # bytes read (or CSV cells converted, at 8 bytes each) at a time
CSV_READ = {"skip_blank_lines": False, "encoding": "utf-8-sig"}  # how every CSV reader reads the file


class NpzImages:
    """The images of one .npz member (N, H, W, C) uint8, read a chunk of rows at a time when `fill` is called."""

    def __init__(self, archive, path: str, key: str):
        self.archive, self.path, self.key = archive, path, key
        self.header = _npy_header(path, key)  # (shape, dtype) of a member that can stream, else None
        if self.header is None:  # read whole, checked as before

            self.whole = as_images(archive[key], path, key)
            self.shape = self.whole.shape
        else:
            shape, _ = self.header  # a numeric dtype (`_npy_header`); values are range-checked as they stream
            self.shape = shape if len(shape) == 4 else (*shape, 1)

    def __len__(self) -> int:
        return self.shape[0]

    def fill(self, out: np.ndarray) -> None:
        if self.header is None:
            out[...] = self.whole
            return
        shape, dtype = self.header
        row = int(np.prod(shape[1:])) * dtype.itemsize
        step = max(1, CHUNK_BYTES // max(1, row))
        low, high, whole = None, None, True
        with zipfile.ZipFile(self.path) as archive, archive.open(f"{self.key}.npy") as member:
            _skip_header(member)
            for start in range(0, len(self), step):
                count = min(step, len(self) - start)
                values = np.frombuffer(member.read(count * row), dtype=dtype).reshape(count, *self.shape[1:])
                if dtype != np.uint8 and values.size:
                    low = values.min() if low is None else min(low, values.min())
                    high = values.max() if high is None else max(high, values.max())
                    whole = whole and (dtype.kind != "f" or bool(np.all(np.round(values) == values)))
                out[start:start + count] = values
        if low is not None and (low < 0 or high > 255 or not whole):
            raise DataError(self.path, f"array {self.key!r}: expected integer pixel values 0..255, found {dtype} values "
                            f"{low:g}..{high:g} (scale to 0..255 and save as uint8)")


def _npy_header(path: str, key: str):
    """(shape, dtype) of a plain C-order numeric member of rank 3 or 4, else None."""
    try:
        with zipfile.ZipFile(path) as archive, archive.open(f"{key}.npy") as member:
            shape, fortran, dtype = _skip_header(member)
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if fortran or dtype.hasobject or len(shape) not in (3, 4) or dtype.kind not in "biuf":
        return None
    return tuple(int(d) for d in shape), dtype


def _skip_header(member):
    version = np.lib.format.read_magic(member)
    read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read(member)


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
        from cnn_cli.data.csv_source import empty_label, pixels_uint8

        start, bad_cell = 0, None
        for chunk in csv_chunks(self.path, rows_per_chunk(self.shape)):
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


def rows_per_chunk(shape) -> int:
    return max(1, CHUNK_BYTES // 8 // max(1, int(np.prod(shape[1:]))))


def csv_chunks(path: str, rows: int, **options):
    """The CSV file's rows as frames of `rows` rows (blank lines kept as empty rows); errors as `read_frame`'s.
    `options` go to `pandas.read_csv` (`usecols`)."""
    import pandas as pd

    with csv_errors(path):
        yield from pd.read_csv(Path(path), **CSV_READ, chunksize=rows, **options)


def csv_header(path: str) -> list:
    """The column names of the CSV file's header line, as pandas names them (duplicates numbered)."""
    import pandas as pd

    with csv_errors(path):
        return list(pd.read_csv(Path(path), **CSV_READ, nrows=0).columns)


@contextlib.contextmanager
def csv_errors(path: str):
    """pandas' errors while reading the CSV file `path`, as one line naming the file."""
    import pandas as pd

    try:
        yield
    except pd.errors.EmptyDataError:
        raise DataError(path, "empty file: no header line and no rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(path, f"not a readable CSV file: {str(exc).strip()}") from None
    except UnicodeDecodeError:
        raise DataError(path, "not a text CSV file") from None
