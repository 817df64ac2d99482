"""MinPooling2D: min pooling, which Keras lacks, as a registered and serializable layer."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="cnn")
class MinPooling2D(layers.Layer):
    """Min pooling over 2-D windows: the smallest value in each window.

    Computed as `-max_pool(-x)`, so it has the shapes, strides and padding rules of
    `keras.layers.MaxPooling2D`. With `padding="same"`, windows that overlap the border take the minimum
    of the values inside the image only.

    Args:
        pool_size: int or pair, the window size. Defaults to `2`.
        strides: int, pair or `None`, the step between windows. Defaults to `pool_size`.
        padding: `"valid"` or `"same"`. Defaults to `"valid"`.

    Example:
        >>> x = np.array([[6, 15, 21, 31], [3, 28, 23, 65], [41, 5, 56, 12], [55, 87, 12, 4]], "float32")
        >>> MinPooling2D(2)(x.reshape(1, 4, 4, 1))[0, :, :, 0]  # [[3, 21], [5, 4]]
    """

    def __init__(self, pool_size=2, strides=None, padding="valid", **kwargs):
        super().__init__(**kwargs)
        self._max = layers.MaxPooling2D(pool_size=pool_size, strides=strides, padding=padding, dtype=self.dtype_policy)
        self.pool_size, self.strides, self.padding = self._max.pool_size, self._max.strides, self._max.padding

    def call(self, inputs):
        return ops.negative(self._max(ops.negative(inputs)))

    def compute_output_shape(self, input_shape):
        return self._max.compute_output_shape(input_shape)

    def get_config(self):
        return {**super().get_config(), "pool_size": self.pool_size, "strides": self.strides, "padding": self.padding}
