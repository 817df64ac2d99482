"""OneCycle: the triangular one-cycle learning-rate schedule (Keras has none), registered under `cnn` so that
a model saved with its optimizer loads back (safe mode)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnn")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear from `start` up to `peak` at step `peak_step`, then linear down to `final` at `total_steps`, and
    `final` after."""

    def __init__(self, peak, total_steps, peak_step, start=0.0, final=0.0):
        self.peak, self.start, self.final = float(peak), float(start), float(final)
        self.total_steps, self.peak_step = int(total_steps), max(1, int(peak_step))

    def __call__(self, step):
        step = ops.cast(step, "float32")
        up = self.start + (self.peak - self.start) * step / self.peak_step
        down_steps = max(1, self.total_steps - self.peak_step)
        fraction = ops.minimum(1.0, (step - self.peak_step) / down_steps)
        down = self.peak + (self.final - self.peak) * fraction
        return ops.where(step < self.peak_step, up, down)

    def get_config(self):
        return {"peak": self.peak, "total_steps": self.total_steps, "peak_step": self.peak_step,
                "start": self.start, "final": self.final}
