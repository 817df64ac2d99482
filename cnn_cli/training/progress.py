"""The progress bar of `cnn train`: Keras' own, with the step count held to the epoch's number of steps.

Keras reports the last step of each group of `steps_per_execution` steps as the group's last index even
when the epoch ends inside the group (keras/src/trainers/epoch_iterator.py), so a 63-step epoch run 32
steps at a time ended at `64/63`. Passing this logger to `fit` replaces the one Keras would add.
"""

from __future__ import annotations

import keras


class StepProgbar(keras.callbacks.ProgbarLogger):
    """`ProgbarLogger` whose step never passes the epoch's number of steps."""

    def _clamp(self, batch: int) -> int:
        return min(batch, self.target - 1) if isinstance(self.target, int) and self.target > 0 else batch

    def on_train_batch_end(self, batch, logs=None):
        super().on_train_batch_end(self._clamp(batch), logs)

    def on_test_batch_end(self, batch, logs=None):
        super().on_test_batch_end(self._clamp(batch), logs)

    def on_predict_batch_end(self, batch, logs=None):
        super().on_predict_batch_end(self._clamp(batch), logs)


def progress_callbacks(verbose: int) -> list:
    """The progress bar for `fit(verbose=...)`: none when silent."""
    return [StepProgbar()] if verbose else []
