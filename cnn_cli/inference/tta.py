"""Test-time augmentation: the average of a model's predictions for each image and its mirror image (flip),
and the warning that mirroring is wrong for digits, letters and signs, whose mirror images mean something
else. Used by `cnn train`'s final test and by `cnn evaluate --tta flip`."""

from __future__ import annotations

import re

import numpy as np

from cnn_cli.data.batches import gather

TTA_MODES = ("none", "flip")
_MIRROR_SENSITIVE = re.compile(r"(?<!fashion_)(?<!fashion-)(mnist|digit|letter|sign|svhn|gtsrb|emnist|ocr)", re.I)


def flip_probabilities(predict, x: np.ndarray, plain: np.ndarray | None = None) -> np.ndarray:
    """The mean of `predict(x)` (or `plain`, when the caller has it already) and `predict(x mirrored left to
    right)`; `x` is (N, H, W, C)."""
    plain = np.asarray(predict(x) if plain is None else plain, dtype=np.float64)
    mirrored = np.asarray(predict(np.ascontiguousarray(x[:, :, ::-1, :])), dtype=np.float64)
    return (plain + mirrored) / 2


def flip_accuracy(predict, images: np.ndarray, labels: np.ndarray, indices: np.ndarray, rows: int) -> float:
    """The flip accuracy on `images[indices]` (the store, in memory or memory-mapped), `rows` images at a time:
    no copy of the whole split is made."""

    indices = np.asarray(indices)
    correct = 0
    for start in range(0, len(indices), max(1, int(rows))):
        chunk = indices[start:start + rows]
        probabilities = flip_probabilities(predict, gather(images, chunk))
        correct += int(np.sum(np.argmax(probabilities, axis=1) == np.asarray(labels)[chunk]))
    return correct / max(1, len(indices))


def accuracy(probabilities: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.argmax(probabilities, axis=1) == np.asarray(y)))


def flip_warning(*names: str | None) -> str | None:
    """A warning when any of `names` (the config's name, the data source, the data path) looks like digits,
    letters or signs."""
    for name in names:
        if name and _MIRROR_SENSITIVE.search(str(name)):
            return (f"Warning: flip test-time augmentation on {name!r}: mirror images of digits, letters and signs "
                    "are other symbols; the flipped figure may mislead")
    return None
