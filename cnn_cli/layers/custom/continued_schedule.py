"""Continued: a learning-rate schedule extended past the length it was planned for (`cnn train --resume RUN
--epochs N`), registered under `cnn` so that a model saved with its optimizer loads back (safe mode)."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnn")
class Continued(keras.optimizers.schedules.LearningRateSchedule):
    """`base` up to step `start`; from there, `base`'s value at `start` (`value`) annealed to `final` at `total`
    steps (`shape`: linear, as one-cycle's decline, or cosine), and `final` after: no new warm-up."""

    def __init__(self, base, start, total, value, final, shape="linear"):
        if isinstance(base, dict):
            base = keras.optimizers.schedules.deserialize(base)
        self.base = base
        self.start, self.total = int(start), int(total)
        self.value, self.final, self.shape = float(value), float(final), str(shape)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        fraction = ops.clip((step - self.start) / max(1, self.total - self.start), 0.0, 1.0)
        if self.shape == "cosine":
            fraction = 0.5 * (1.0 - ops.cos(math.pi * fraction))
        after = self.value + (self.final - self.value) * fraction
        before = ops.cast(self.base(step), "float32") if callable(self.base) else ops.cast(self.base, "float32")
        return ops.where(step < self.start, before, after)

    def get_config(self):
        base = keras.optimizers.schedules.serialize(self.base) if callable(self.base) else self.base
        return {"base": base, "start": self.start, "total": self.total, "value": self.value, "final": self.final,
                "shape": self.shape}
