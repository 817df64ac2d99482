"""ChannelPadding: zeros added after (and before) the channels, the option-A shortcut of CIFAR ResNets (He et
al. 2015), as a registered and serializable layer (Keras has no layer for it)."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="cnn")
class ChannelPadding(layers.Layer):
    """Pads the last axis with `before` zero channels in front and `after` behind. No weights.

    Args:
        before: int, zero channels before the input's.
        after: int, zero channels after them.

    Example:
        >>> ChannelPadding(0, 2)(np.ones((1, 1, 1, 2), "float32"))[0, 0, 0]  # [1, 1, 0, 0]
    """

    def __init__(self, before=0, after=0, **kwargs):
        super().__init__(**kwargs)
        self.before, self.after = int(before), int(after)

    def call(self, inputs):
        pads = [[0, 0]] * (len(inputs.shape) - 1) + [[self.before, self.after]]
        return ops.pad(inputs, pads)

    def compute_output_shape(self, input_shape):
        channels = input_shape[-1]
        return (*input_shape[:-1], None if channels is None else channels + self.before + self.after)

    def get_config(self):
        return {**super().get_config(), "before": self.before, "after": self.after}
