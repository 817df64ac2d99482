"""Test-time augmentation: the average of a model's predictions for each image and its mirror image (flip),
and the warning that mirroring is wrong for digits, letters and signs, whose mirror images mean something
else. Used by `cnn train`'s final test and by `cnn evaluate --tta flip`."""

from __future__ import annotations

import re

import numpy as np

TTA_MODES = ("none", "flip")
_MIRROR_SENSITIVE = re.compile(r"(?<!fashion_)(?<!fashion-)(mnist|digit|letter|sign|svhn|gtsrb|emnist|ocr)", re.I)


def flip_probabilities(predict, x: np.ndarray) -> np.ndarray:
    """The mean of `predict(x)` and `predict(x mirrored left to right)`; `x` is (N, H, W, C)."""
    plain = np.asarray(predict(x), dtype=np.float64)
    mirrored = np.asarray(predict(np.ascontiguousarray(x[:, :, ::-1, :])), dtype=np.float64)
    return (plain + mirrored) / 2


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
