"""WeightedBinaryCrossentropy: binary cross-entropy with a weight on each label's positive examples (Keras'
has none), what `class_weight: balanced` becomes for a multi-label task; registered under `cnn` so that a model
saved with it loads back (safe mode)."""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="cnn")
class WeightedBinaryCrossentropy(keras.losses.Loss):
    """-mean over labels of (pos_weight[l] * y log p + (1 - y) log(1 - p)), on probabilities (a sigmoid head),
    the targets smoothed towards 0.5 by `label_smoothing`."""

    def __init__(self, pos_weight, label_smoothing=0.0, name="weighted_binary_crossentropy", reduction="sum_over_batch_size",
                 dtype=None):
        super().__init__(name=name, reduction=reduction, dtype=dtype)
        self.pos_weight = [float(w) for w in pos_weight]
        self.label_smoothing = float(label_smoothing)

    def call(self, y_true, y_pred):
        y_pred = ops.convert_to_tensor(y_pred)
        y_true = ops.cast(y_true, y_pred.dtype)
        if self.label_smoothing:
            y_true = y_true * (1.0 - self.label_smoothing) + 0.5 * self.label_smoothing
        epsilon = keras.config.epsilon()
        p = ops.clip(y_pred, epsilon, 1.0 - epsilon)
        weight = ops.cast(ops.convert_to_tensor(self.pos_weight), y_pred.dtype)
        terms = weight * y_true * ops.log(p) + (1.0 - y_true) * ops.log(1.0 - p)
        return -ops.mean(terms, axis=-1)

    def get_config(self):
        return {**super().get_config(), "pos_weight": self.pos_weight, "label_smoothing": self.label_smoothing}
