"""Array sources read a piece at a time, for data larger than memory: a source's images known by their count
and shape first (`len`, `.shape`, from the headers), then written chunk by chunk into a part of a
preallocated array (`fill(out)`): the cache file's memory map or one array in memory, never a whole split
decoded on its own beside it. The classes that do it are their sources' (`cnn_cli.data.sources`):

- `idx.IdxImages`: the IDX header, then the body read (gunzipped on the fly) straight into the target.
- `npz.NpzImages`: the member's `.npy` header through `zipfile` (`np.load(mmap_mode=...)` does not map .npz
  members, stored or compressed), then its rows a chunk at a time, checked and converted as `arrays.as_images`
  does; an array this cannot stream (Fortran order, objects, another rank) is read whole, as before.
- `csv.CsvImages`: a first pass over the file's label column alone (pandas, `chunksize`, `usecols`) counts
  the rows and reads the labels; `fill` is a second pass that converts the pixel cells chunk by chunk and
  checks that the rows after the last labelled one are blank lines.

Each gives exactly the pixels and the errors of its source's whole-file reader. This module holds what they
share: the chunk size, and reading a CSV file a chunk of rows at a time (as every CSV reader reads it).
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from cnn_cli.errors import DataError

CHUNK_BYTES = 32 * 2**20  # bytes read (or CSV cells converted, at 8 bytes each) at a time
CSV_READ = {"skip_blank_lines": False, "encoding": "utf-8-sig"}  # how every CSV reader reads the file


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
