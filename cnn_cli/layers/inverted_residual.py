"""`inverted_residual`: the MobileNetV2 / EfficientNet MBConv block (expand, depthwise, squeeze-excite,
linear projection, skip when the shapes allow)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt
from cnn_cli.layers.squeeze_excitation import excite

NAMES = {
    "efficientnet": {
        "expand": "expand_conv", "expand_bn": "expand_bn", "expand_act": "expand_activation", "pad": "dwconv_pad",
        "depthwise": "dwconv", "depthwise_bn": "bn", "depthwise_act": "activation", "project": "project_conv",
        "project_bn": "project_bn", "drop": "drop", "add": "add",
    },
    "mobilenet_v2": {
        "expand": "expand", "expand_bn": "expand_BN", "expand_act": "expand_relu", "pad": "pad",
        "depthwise": "depthwise", "depthwise_bn": "depthwise_BN", "depthwise_act": "depthwise_relu",
        "project": "project", "project_bn": "project_BN", "drop": "drop", "add": "add",
    },
}
"""The layers' suffixes in each of Keras' two applications that use the block, so their weights can load."""


def correct_pad(size: tuple[int, int], kernel_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """Keras' `imagenet_utils.correct_pad`: the zero padding that makes a strided 'valid' window centred
    like TensorFlow-Slim's (one less row/column at the top/left when the size is even)."""
    half = kernel_size // 2
    return ((half - (1 - size[0] % 2), half), (half - (1 - size[1] % 2), half))


class InvertedResidual(Composite):
    """An inverted residual block (MBConv), as `keras.applications.MobileNetV2` and `EfficientNetB0` build it.

    Layers: a 1x1 `expand` convolution to `expansion` x C channels with batch norm and `activation` (left out
    when `expansion` is 1); a `kernel_size` depthwise convolution carrying the stride (after Keras' zero
    padding when the stride is 2) with batch norm and `activation`; with `se_ratio` > 0 a squeeze-excitation
    (`se_squeeze` ... `se_excite`) that squeezes to max(1, int(C x se_ratio)) channels of the block's input C;
    a linear 1x1 `project` convolution to `filters` channels with batch norm; and when the stride is 1 and C
    equals `filters`, the skip: an optional drop path `drop` (`drop_rate`) and `add`. No convolution but the
    squeeze-excitation's has a bias. `names` picks the suffixes of the Keras application the block copies
    (`efficientnet`: `expand_conv`, `dwconv`, `bn`, ...; `mobilenet_v2`: `expand`, `depthwise`, `depthwise_BN`,
    ...). Output: (ceil(H/strides), ceil(W/strides), filters).
    """

    keras_name = "inverted_residual"
    strided = True
    type: Literal["inverted_residual"]
    filters: PositiveInt = Field(description="Output channels.")
    expansion: PositiveInt = Field(6, description="The expanded width is expansion x input channels.")
    kernel_size: PositiveInt = Field(3, description="Kernel of the depthwise convolution.")
    strides: Literal[1, 2] = Field(1, description="Stride of the depthwise convolution.")
    se_ratio: float = Field(0.0, ge=0, le=1, description="Squeeze-excitation width as a fraction of the input "
                                                          "channels; 0 leaves it out.")
    drop_rate: float = Field(0.0, ge=0, lt=1, description="Drop path rate of the block's branch (before the add) while training.")
    activation: Activation = Field("relu6", description="The activation after the expansion and the depthwise convolution.")
    epsilon: float = Field(1e-3, gt=0, description="Batch norm epsilon.")
    momentum: float = Field(0.99, gt=0, lt=1, description="Batch norm momentum.")
    names: Literal["efficientnet", "mobilenet_v2"] = Field(
        "efficientnet", description="Whose layer names the parts take: Keras' EfficientNet's or MobileNetV2's.")

    def expand(self, g, x):
        n = NAMES[self.names]
        bn = {"epsilon": self.epsilon, "momentum": self.momentum}
        channels = g.shape(x)[-1]
        y = x
        if self.expansion != 1:
            y = g.add("conv2d", n["expand"], y, filters=self.expansion * channels, kernel_size=1, padding="same",
                      use_bias=False)
            y = g.add("batch_norm", n["expand_bn"], y, **bn)
            y = g.add("activation", n["expand_act"], y, activation=self.activation)
        padding = "same"
        if self.strides == 2:
            y = g.add("zero_padding2d", n["pad"], y, padding=correct_pad(g.shape(y)[:2], self.kernel_size))
            padding = "valid"
        y = g.add("depthwise_conv2d", n["depthwise"], y, kernel_size=self.kernel_size, strides=self.strides,
                  padding=padding, use_bias=False)
        y = g.add("batch_norm", n["depthwise_bn"], y, **bn)
        y = g.add("activation", n["depthwise_act"], y, activation=self.activation)
        if self.se_ratio > 0:
            y = excite(g, y, max(1, int(channels * self.se_ratio)), self.activation)
        y = g.add("conv2d", n["project"], y, filters=self.filters, kernel_size=1, padding="same", use_bias=False)
        y = g.add("batch_norm", n["project_bn"], y, **bn)
        if self.strides != 1 or channels != self.filters:
            return y
        if self.drop_rate > 0:
            y = g.add("stochastic_depth", n["drop"], y, rate=self.drop_rate)
        # Keras' EfficientNet adds (block, input); MobileNetV2 adds (input, block): same sum, same weights.
        inputs = [x, y] if self.names == "mobilenet_v2" else [y, x]
        return g.add("add", n["add"], inputs)
