"""LayerScale: a learned per-channel scale (ConvNeXt, CaiT), which Keras has only as a private class of
its ConvNeXt application, as a registered and serializable layer."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="cnn")
class LayerScale(layers.Layer):
    """Multiplies each channel (the last axis) by a learned factor, `gamma`, that starts at `init_values`.

    The weight is named `gamma`, as in `keras.applications.convnext`, so that model's weight files load
    into it. Params: one per channel.

    Args:
        init_values: float, the starting value of every factor (ConvNeXt uses `1e-6`).
        projection_dim: int, the number of channels. Defaults to the input's last axis.

    Example:
        >>> LayerScale(0.5)(np.ones((1, 2, 2, 3), "float32"))[0, 0, 0]  # [0.5, 0.5, 0.5]
    """

    def __init__(self, init_values=1e-6, projection_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.init_values = float(init_values)
        self.projection_dim = projection_dim

    def build(self, input_shape):
        if self.projection_dim is None:
            self.projection_dim = int(input_shape[-1])
        self.gamma = self.add_weight(
            name="gamma", shape=(self.projection_dim,),
            initializer=keras.initializers.Constant(self.init_values), trainable=True,
        )

    def call(self, inputs):
        return ops.multiply(inputs, ops.cast(self.gamma, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}
