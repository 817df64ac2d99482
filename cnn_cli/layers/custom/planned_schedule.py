"""Planned: a one-cycle or cosine learning-rate schedule whose length can be re-planned while it runs (`cnn train
--time-limit`: from a measured epoch time), registered under `cnn` so that a model saved with its optimizer loads
back (safe mode). Its changing numbers are variables, read by the compiled training step."""

from __future__ import annotations

import math

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnn")
class Planned(keras.optimizers.schedules.LearningRateSchedule):
    """Linear from `start` up to `peak` at step `peak_step`; then from `from_value` at `from_step` to `final` at
    `total` (`shape` linear, as one-cycle, or cosine, as CosineDecay), and `final` after. As first planned,
    `from_step` is `peak_step` and `from_value` is `peak`: the one-cycle or warm-up-then-cosine schedule."""

    def __init__(self, start, peak, final, peak_step, total, from_step=None, from_value=None, shape="linear"):
        self.start, self.peak, self.final, self.shape = float(start), float(peak), float(final), str(shape)
        self.peak_step = keras.Variable(float(peak_step), trainable=False, name="planned_peak_step")
        self.total = keras.Variable(float(total), trainable=False, name="planned_total")
        self.from_step = keras.Variable(float(peak_step if from_step is None else from_step), trainable=False,
                                        name="planned_from_step")
        self.from_value = keras.Variable(float(peak if from_value is None else from_value), trainable=False,
                                         name="planned_from_value")

    def replan(self, *, total: int, peak_step: int | None = None, from_step: int | None = None,
               from_value: float | None = None) -> None:
        """A new length (and, past the peak, where the decline now starts from)."""
        self.total.assign(float(total))
        if peak_step is not None:
            self.peak_step.assign(float(max(1, peak_step)))
        self.from_step.assign(float(self.peak_step.numpy() if from_step is None else from_step))
        self.from_value.assign(float(self.peak if from_value is None else from_value))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        peak_step = ops.maximum(ops.cast(self.peak_step, "float32"), 1.0)
        up = self.start + (self.peak - self.start) * step / peak_step
        from_step, from_value = ops.cast(self.from_step, "float32"), ops.cast(self.from_value, "float32")
        fraction = ops.minimum(1.0, ops.maximum(0.0, (step - from_step) / ops.maximum(1.0, self.total - from_step)))
        if self.shape == "cosine":
            fraction = 0.5 * (1.0 - ops.cos(math.pi * fraction))
        down = from_value + (self.final - from_value) * fraction
        return ops.where(step < peak_step, up, down)

    def get_config(self):
        value = {name: float(keras.ops.convert_to_numpy(getattr(self, name)))
                 for name in ("peak_step", "total", "from_step", "from_value")}
        return {"start": self.start, "peak": self.peak, "final": self.final, "shape": self.shape, **value}
