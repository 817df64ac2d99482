"""`data.sampling`: how often each training example is drawn in an epoch, so that rare classes come as often as
common ones (`balanced`) or in proportion to the square root of their counts (`sqrt`).

`draw_weights(labels, mode)` gives one probability per example of the training split: classification, by its
class (a class of count c: each example 1/c, or 1/sqrt(c), so the classes come equally often, or as sqrt(c));
multilabel, by its rarest label (an example weighs as the largest weight of its labels, the repeat-factor rule of
LVIS; examples without any label form a group of their own). The batches (`batches.epoch_draw`) draw each
epoch's examples by these weights with replacement, as many as the split holds (the epoch keeps its length),
from (seed, epoch) alone: a resumed run draws what an uninterrupted one draws.
"""

from __future__ import annotations

import numpy as np

MODES = ("balanced", "sqrt")


def _power(mode: str) -> float:
    if mode not in MODES:
        raise ValueError(f"unknown sampling {mode!r}; expected one of {', '.join(MODES)}")
    return 1.0 if mode == "balanced" else 0.5


def draw_weights(labels: np.ndarray, mode: str) -> np.ndarray:
    """The probability of drawing each example (float64, sums to 1): `labels` class indices (N,) or multi-hot
    rows (N, L)."""
    power = _power(mode)
    labels = np.asarray(labels)
    if labels.ndim == 1:
        ids = labels.astype(np.int64)
        counts = np.bincount(ids).astype(np.float64)
        weights = counts[ids] ** -power
    else:
        rows = labels > 0.5
        counts = rows.sum(axis=0).astype(np.float64)
        per_label = np.where(counts > 0, np.maximum(counts, 1) ** -power, 0.0)
        weights = (rows * per_label).max(axis=1, initial=0.0)
        empty = ~rows.any(axis=1)
        if empty.any():  # examples without labels: a group of their own
            weights[empty] = float(empty.sum()) ** -power
    return weights / weights.sum()
