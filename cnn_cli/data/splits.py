"""Splitting off a validation set (scikit-learn, imported when used) and taking stratified subsets, as
positions (index arrays), never copies of the images."""

from __future__ import annotations

import numpy as np

from cnn_cli.errors import ConfigError


def split_validation(x: np.ndarray, y: np.ndarray, fraction: float, seed: int, stratify: bool,
                     source: str = "<config file>", what: str = "validation",
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(x_train, y_train, x_val, y_val) -- or the test set, `what` -- the arrays taken at `split_positions`."""
    train, val = split_positions(y, fraction, seed, stratify, source, what)
    return x[train], y[train], x[val], y[val]


def split_positions(y: np.ndarray, fraction: float, seed: int, stratify: bool, source: str = "<config file>",
                    what: str = "validation", describe=None) -> tuple[np.ndarray, np.ndarray]:
    """(train, held out) positions into `y`, from scikit-learn's
    `train_test_split(positions, test_size=fraction, random_state=seed, stratify=y if stratify else None)`.
    `describe(class index)` names a class in the errors of a stratified split (its id and name)."""
    from sklearn.model_selection import train_test_split  # imported here: it takes a second

    if stratify:
        _check_stratifiable(y, fraction, source, what, describe or (lambda index: f"class {index}"))
    positions = np.arange(len(y))
    try:
        train, val = train_test_split(positions, test_size=fraction, random_state=seed, stratify=y if stratify else None)
    except ValueError as exc:
        path = "data.stratify" if stratify else f"data.{'test' if what == 'test' else 'validation'}_split"
        hint = "; set data.stratify: false or give more data" if stratify else ""
        raise ConfigError(source, path, f"cannot split off a {what} set of {fraction:g} of {len(y)} examples: {exc}{hint}") from None
    return train, val


def _check_stratifiable(y: np.ndarray, fraction: float, source: str, what: str, describe) -> None:
    """What scikit-learn refuses in a stratified split, said with the classes: a class of one example, or a
    held-out set (or what is left) smaller than the number of classes."""
    import math

    classes, counts = np.unique(y, return_counts=True)
    start = f"cannot split off a {what} set of {fraction:g} of {len(y):,} examples"
    lonely = classes[counts < 2]
    hint = "set data.stratify: false, or give more examples of it"
    if len(lonely):
        more = f" (and {len(lonely) - 1:,} more classes with one example)" if len(lonely) > 1 else ""
        raise ConfigError(source, "data.stratify", f"{start}: {describe(int(lonely[0]))} has only 1 example{more}, "
                          f"and a stratified split needs at least 2 of each class: {hint}")
    held = math.ceil(fraction * len(y))
    for part, size in ((f"the {what} set", held), ("the training set left", len(y) - held)):
        if size < len(classes):
            raise ConfigError(source, "data.stratify", f"{start}: {part} ({size:,} examples) is smaller than the "
                              f"{len(classes):,} classes, and a stratified split puts every class in it: set "
                              "data.stratify: false, or give more data")


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


def fold_problem(y: np.ndarray, folds: int, stratify: bool, describe=None) -> str | None:
    """Why the labels `y` cannot be cut into `folds` parts (None: they can): fewer examples than folds, or, for
    stratified folds, a class with fewer examples than folds (a part would lack it)."""
    if len(y) < folds:
        return f"{folds} folds of {len(y):,} training examples: fewer examples than folds"
    if not stratify:
        return None
    classes, counts = np.unique(y, return_counts=True)
    smallest = int(np.argmin(counts))
    if counts[smallest] < folds:
        name = (describe or (lambda index: f"class {index}"))(int(classes[smallest]))
        return (f"{folds} folds, more than the smallest class of the training split has examples ({name}: "
                f"{int(counts[smallest]):,}); stratified folds need one of each class in every part")
    return None


def fold_positions(y: np.ndarray, folds: int, number: int, seed: int, stratify: bool, source: str = "<config file>",
                   describe=None) -> tuple[np.ndarray, np.ndarray]:
    """(train, validation) positions into `y`: part `number` (1-based) of scikit-learn's `StratifiedKFold` (or
    `KFold` without `stratify`) of `folds` parts, shuffled with `seed`, validates; the others train."""
    from sklearn.model_selection import KFold, StratifiedKFold  # imported here: it takes a second

    problem = fold_problem(y, folds, stratify, describe)
    if problem is not None:
        raise ConfigError(source, "data.fold.folds", problem, folds)
    splitter = (StratifiedKFold if stratify else KFold)(n_splits=folds, shuffle=True, random_state=seed % 2**32)
    train, validation = list(splitter.split(np.zeros(len(y)), y))[number - 1]
    return train, validation
