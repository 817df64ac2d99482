"""Splitting off a validation set (scikit-learn, imported when used) and taking stratified subsets, as\npositions (index arrays), never copies of the images."""

from __future__ import annotations

import numpy as np

from cnn_cli.errors import ConfigError


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, stratify: bool,
                     source: str = "<config file>") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_val, y_val): the arrays taken at `split_positions`."""
    train, val = split_positions(y, fraction, seed, stratify, source)
    return x[train], y[train], x[val], y[val]


def split_positions(y: np.ndarray, fraction: float, seed: int, stratify: bool,
                    source: str = "<config file>") -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) positions into `y`, from scikit-learn's
    `train_test_split(positions, test_size=fraction, random_state=seed, stratify=y if stratify else None)`."""
    from sklearn.model_selection import train_test_split  # imported here: it takes a second

    positions = np.arange(len(y))
    try:
        train, val = train_test_split(positions, test_size=fraction, random_state=seed, stratify=y if stratify else None)
    except ValueError as exc:
        path = "data.stratify" if stratify else "data.validation_split"
        hint = "; set data.stratify: false or give more data" if stratify else ""
        raise ConfigError(source, path, f"cannot split off a validation set of {fraction:g} of {len(y)} examples: {exc}{hint}") from None
    return train, val


def subset_positions(y: np.ndarray, n: int) -> np.ndarray:
    """Positions of the first `n` examples taken class by class, in the original order.

    Each class gets a quota in proportion to its share (largest remainders, ties to the lower class index);
    the quota is filled with that class's first examples. With n >= len(y) every position is kept.
    """
    if n >= len(y):
        return np.arange(len(y))
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * n / len(y)
    quota = np.floor(exact).astype(int)
    order = np.lexsort((np.arange(len(classes)), -(exact - quota)))
    quota[order[: n - quota.sum()]] += 1
    keep = [np.flatnonzero(y == c)[:q] for c, q in zip(classes, quota)]
    return np.sort(np.concatenate(keep))
