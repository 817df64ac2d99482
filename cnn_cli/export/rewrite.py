"""Layers that a converter mishandles, replaced by equivalents before conversion (the verification then
compares the export with the model as it was):

- ONNX and LiteRT: a `Normalization` becomes the `Rescaling` x * (1/sd) + (-mean/sd): its mean and variance
  are constants the graph captures, which tf2onnx leaves as inputs of the ONNX model, and which LiteRT's
  converter got wrong for an adapted layer loaded from a file (the export's answers differed);
- ONNX: a grouped `Conv2D` (Keras runs it as an XLA function, which tf2onnx cannot inline) becomes
  `GroupedConv2D`: a depthwise convolution when each group is one channel, else one convolution per group;
- LiteRT and ONNX: the exact GELU (TensorFlow's `Erfc`, neither a LiteRT builtin nor known to tf2onnx) is
  computed from basic operators, erf by Abramowitz and Stegun 7.1.26 (error under 1.5e-7).
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


class GroupedConv2D(keras.layers.Layer):
    """The computation of a grouped `Conv2D` without XLA: depthwise, or split into `groups` convolutions."""

    def __init__(self, conv, **kwargs):
        super().__init__(name=conv.name, dtype=conv.dtype_policy, **kwargs)
        self.groups, self.strides, self.padding = conv.groups, conv.strides, conv.padding
        self.dilation_rate, self.activation = conv.dilation_rate, conv.activation
        kernel = ops.convert_to_numpy(conv.kernel)
        self.depthwise = kernel.shape[2] == 1
        if self.depthwise:  # (kh, kw, 1, C * m) -> (kh, kw, C, m): output c * m + j is channel c's j-th filter
            kernel = kernel.reshape(kernel.shape[0], kernel.shape[1], self.groups, -1)
        self.kernel = self.add_weight(shape=kernel.shape, initializer=keras.initializers.Constant(kernel),
                                      trainable=False, name="kernel")
        self.bias = None
        if conv.use_bias:
            bias = ops.convert_to_numpy(conv.bias)
            self.bias = self.add_weight(shape=bias.shape, initializer=keras.initializers.Constant(bias),
                                        trainable=False, name="bias")

    def call(self, x):
        if self.depthwise:
            y = ops.depthwise_conv(x, self.kernel, self.strides, self.padding, dilation_rate=self.dilation_rate)
        else:
            pieces = zip(ops.split(x, self.groups, axis=-1), ops.split(self.kernel, self.groups, axis=-1))
            y = ops.concatenate([ops.conv(xi, ki, self.strides, self.padding, dilation_rate=self.dilation_rate)
                                 for xi, ki in pieces], axis=-1)
        if self.bias is not None:
            y = y + self.bias
        return self.activation(y)


def gelu_with_builtins(x):
    """0.5 x (1 + erf(x / sqrt 2)), erf by Abramowitz and Stegun 7.1.26, from abs, exp, sign and arithmetic."""
    z = ops.abs(x) * (1.0 / math.sqrt(2.0))
    t = 1.0 / (1.0 + 0.3275911 * z)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return 0.5 * x * (1.0 + ops.sign(x) * (1.0 - poly * ops.exp(-z * z)))


def _normalization_as_rescaling(layer):
    mean, variance = (np.asarray(ops.convert_to_numpy(v), np.float64) for v in (layer.mean, layer.variance))
    sd = np.maximum(np.sqrt(variance), keras.config.epsilon())
    scale, offset = 1.0 / sd, -mean / sd
    if scale.ndim > 1:  # (1, ..., C) with the batch axis: drop it
        scale, offset = scale.reshape(scale.shape[1:]), offset.reshape(offset.shape[1:])
    return keras.layers.Rescaling(scale.tolist(), offset.tolist(), name=layer.name, dtype=layer.dtype_policy)


def _is_normalization(layer) -> bool:
    return type(layer).__name__ == "Normalization" and not getattr(layer, "invert", False)


def _is_grouped_conv(layer) -> bool:
    return type(layer).__name__ == "Conv2D" and getattr(layer, "groups", 1) > 1


def _has_gelu(layer) -> bool:
    return getattr(getattr(layer, "activation", None), "__name__", "") == "gelu"


RULES = {  # format -> [(does it apply to a layer, the layer that replaces it (None: a plain copy), a change after)]
    "onnx": [(_is_normalization, _normalization_as_rescaling, None), (_is_grouped_conv, GroupedConv2D, None),
             (_has_gelu, None, lambda layer: setattr(layer, "activation", gelu_with_builtins))],
    "litert": [(_is_normalization, _normalization_as_rescaling, None),
               (_has_gelu, None, lambda layer: setattr(layer, "activation", gelu_with_builtins))],
}


def convertible(model, fmt: str, layers_of):
    """`model` with the layers that `fmt`'s converter mishandles replaced (the same model when there are none).
    `layers_of(model)` lists a model's layers, nested models' included, in order."""
    rules = RULES.get(fmt, [])
    if not any(applies(layer) for layer in layers_of(model) for applies, _, _ in rules):
        return model
    replaced = set()

    def replace(layer):
        for applies, make, after in rules:
            if applies(layer):
                new = make(layer) if make else type(layer).from_config(layer.get_config())
                if after:
                    after(new)
                if make:
                    replaced.add(layer.name)
                return new
        return type(layer).from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=replace, recursive=True)
    for old, new in zip(layers_of(model), layers_of(clone)):
        if old.name not in replaced:
            new.set_weights(old.get_weights())
    return clone
