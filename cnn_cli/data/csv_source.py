"""CSV files in the Sign Language MNIST layout: a header line, a label column (`data.label_column`) and one
column per pixel (all the other columns, row-major, H*W*C of them), integers 0..255. `read_frame` and
`pixels_uint8` also read the CSV inputs of `cnn predict`, so both report a bad cell the same way.

Errors name the file and the first bad cell as `row R (line L)`: R counts data rows from 1, L is the line
of the file (the header is line 1, so L = R + 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from cnn_cli.data.dataset import RawSplit
from cnn_cli.errors import DataError

DEFAULT_SHAPE = (28, 28, 1)


def csv_row(position: int) -> str:
    return f"row {position + 1} (line {position + 2})"


def read_csv_split(path: str, label_column: str = "label", image_shape: tuple[int, int, int] | None = None) -> RawSplit:
    """Images (N, H, W, C) uint8 and label ids of one CSV file."""
    shape = tuple(image_shape or DEFAULT_SHAPE)
    frame = read_frame(path)
    if label_column not in frame.columns:
        columns = ", ".join(repr(str(c)) for c in list(frame.columns)[:5]) + (", ..." if frame.shape[1] > 5 else "")
        raise DataError(path, f"no label column {label_column!r} (data.label_column); the header starts {columns}")
    if len(frame) == 0:
        raise DataError(path, "no data rows, only a header line")
    labels = frame[label_column]
    if labels.isna().any():
        first = int(np.argmax(labels.isna().to_numpy()))
        raise DataError(path, f"{csv_row(first)}, column {label_column!r}: empty label cell")
    pixels = frame.drop(columns=[label_column])
    expected = int(np.prod(shape))
    if pixels.shape[1] != expected:
        raise DataError(
            path, f"{pixels.shape[1]} pixel columns (every column but {label_column!r}), expected {expected} for "
            f"image_shape {'x'.join(map(str, shape))} (data.image_shape)",
        )
    x = pixels_uint8(pixels, path).reshape((len(frame), *shape))
    return RawSplit(x=x, ids=labels.to_numpy(), origin=path, row=csv_row)


def read_frame(path: str) -> pd.DataFrame:
    """The CSV file as a frame (blank lines at its end dropped); unreadable is one line naming the file."""
    file = Path(path)
    if not file.is_file():
        raise DataError(path, "no such file" if not file.exists() else "not a file")
    try:
        frame = pd.read_csv(file, skip_blank_lines=False, low_memory=False, encoding="utf-8-sig")
    except pd.errors.EmptyDataError:
        raise DataError(path, "empty file: no header line and no rows") from None
    except pd.errors.ParserError as exc:
        raise DataError(path, f"not a readable CSV file: {str(exc).strip()}") from None
    except UnicodeDecodeError:
        raise DataError(path, "not a text CSV file") from None
    blank = frame.isna().all(axis=1).to_numpy()
    end = len(frame)
    while end and blank[end - 1]:  # blank lines at the end of the file
        end -= 1
    return frame.iloc[:end]


def pixels_uint8(pixels: pd.DataFrame, path: str) -> np.ndarray:
    """The pixel cells as uint8; the first non-numeric, empty, fractional or out-of-range cell is an error."""
    text_columns = [c for c in pixels.columns if pixels[c].dtype.kind not in "iufb"]
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
            raise DataError(path, f"{csv_row(position)}, column {str(column)!r}: not a number: {str(value)!r}")
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
        raise DataError(path, f"{csv_row(row)}, column {column!r}: empty or NaN cell")
    value = values[row, col]
    shown = int(value) if value == round(value) else value
    raise DataError(path, f"{csv_row(row)}, column {column!r}: pixel value {shown} is not an integer 0..255")
