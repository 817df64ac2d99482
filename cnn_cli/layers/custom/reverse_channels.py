"""ReverseChannels: the channels in reverse order (RGB to BGR), for the caffe preprocessing of
`model.preprocess`, as a registered and serializable layer (Keras has no layer for it)."""

from __future__ import annotations

import keras
from keras import layers, ops


@keras.saving.register_keras_serializable(package="cnn")
class ReverseChannels(layers.Layer):
    """Reverses the order of the last axis: RGB pixels become BGR, as `keras.applications`' caffe-style
    `preprocess_input` (ResNet50, VGG) does before it subtracts the ImageNet means. No weights.

    Computed as a gather with fixed indices (C-1, ..., 0), which every export format has.

    Example:
        >>> ReverseChannels()(np.array([[[[1, 2, 3]]]], "float32"))[0, 0, 0]  # [3, 2, 1]
    """

    def call(self, inputs):
        channels = inputs.shape[-1]
        return ops.take(inputs, list(range(channels - 1, -1, -1)), axis=-1)

    def compute_output_shape(self, input_shape):
        return input_shape
