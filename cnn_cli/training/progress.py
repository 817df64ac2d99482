"""The progress bar of `cnn train`: Keras' own, with the step count held to the epoch's number of steps; and
`Throughput`, the images per second of each epoch's training steps (printed, and kept in metrics.json).

Keras reports the last step of each group of `steps_per_execution` steps as the group's last index even
when the epoch ends inside the group (keras/src/trainers/epoch_iterator.py), so a 63-step epoch run 32
steps at a time ended at `64/63`. Passing this logger to `fit` replaces the one Keras would add.
"""

from __future__ import annotations

import time

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


class Throughput(keras.callbacks.Callback):
    """Images per second of each epoch's training steps (from the epoch's start to its validation, or its end),
    said in one line after Keras' own when `say` is given, and kept for metrics.json (`record`)."""

    def __init__(self, images: int, say=None):
        super().__init__()
        self.images, self.say = int(images), say
        self.per_epoch: list[float] = []
        self._started: float | None = None
        self._trained: float | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self._started, self._trained = time.perf_counter(), None

    def on_test_begin(self, logs=None):
        if self._started is not None and self._trained is None:  # the validation after the epoch's steps
            self._trained = time.perf_counter() - self._started

    def on_epoch_end(self, epoch, logs=None):
        if self._started is None:
            return
        seconds = self._trained if self._trained is not None else time.perf_counter() - self._started
        self._started = None
        rate = self.images / seconds if seconds > 0 else 0.0
        self.per_epoch.append(round(rate, 1))
        if self.say is not None:
            self.say(f"Epoch {epoch + 1}: {rate:,.0f} images/s ({self.images:,} images in {seconds:.1f} s of training steps)")

    def record(self) -> dict:
        """metrics.json's `images_per_second` (the median epoch of this process; a resume counts its own epochs)
        and `epoch_images_per_second` (each epoch's, in order); nothing when no epoch ran."""
        if not self.per_epoch:
            return {}
        ordered = sorted(self.per_epoch)
        middle = len(ordered) // 2
        median = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        return {"images_per_second": round(median, 1), "epoch_images_per_second": list(self.per_epoch)}
