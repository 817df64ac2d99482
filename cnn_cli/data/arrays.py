"""Checking arrays from .npz and IDX files: images become uint8 (N, H, W, C), labels a vector (N,) or rows (N, L)."""

from __future__ import annotations

import numpy as np

from cnn_cli.errors import DataError


def as_images(array: np.ndarray, origin: str, key: str) -> np.ndarray:
    """(N, H, W) gets a channel axis; values must be integers 0..255 (any integer or float dtype)."""
    if array.ndim == 3:
        array = array[..., np.newaxis]
    if array.ndim != 4:
        raise DataError(origin, f"array {key!r}: expected images of shape (N, H, W) or (N, H, W, C), found {array.shape}")
    if array.dtype == np.uint8:
        return array
    if array.dtype.kind not in "iuf" and array.dtype != np.bool_:
        raise DataError(origin, f"array {key!r}: expected pixel values 0..255, found dtype {array.dtype}")
    if array.size:
        low, high = array.min(), array.max()
        whole = array.dtype.kind != "f" or bool(np.all(np.round(array) == array))
        if low < 0 or high > 255 or not whole:
            raise DataError(
                origin, f"array {key!r}: expected integer pixel values 0..255, found {array.dtype} values "
                f"{low:g}..{high:g} (scale to 0..255 and save as uint8)",
            )
    return array.astype(np.uint8)


def as_labels(array: np.ndarray, origin: str, key: str) -> np.ndarray:
    """Label ids (N,); (N, 1) is flattened; rows (N, L) -- several labels or numbers per example, or one-hot
    rows of class ids -- stay as they are (`load_dataset` reads them by the config's task: `one_hot_ids` makes
    one-hot rows class ids for classification, where a multi-label task keeps every column)."""
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    elif array.ndim == 2 and array.shape[1] > 1:
        return array
    if array.ndim != 1:
        raise DataError(origin, f"array {key!r}: expected labels of shape (N,), found {array.shape}")
    return array


def one_hot_ids(ids) -> np.ndarray:
    """`ids` as they are, or the index of the 1 of each row when they are one-hot rows (N, K)."""
    array = np.asarray(ids)
    if array.ndim == 2 and array.size and array.dtype.kind in "biuf" and np.isin(array, (0, 1)).all() \
            and (array.sum(axis=1) == 1).all():
        return array.argmax(axis=1)
    return array
