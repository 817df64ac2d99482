"""`bottleneck`: the ResNet-50/101/152 residual unit (1x1 reduce, 3x3, 1x1 expand, skip connection)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt


class Bottleneck(Composite):
    """A ResNet bottleneck unit, as `keras.applications.ResNet50` builds it (`residual_block_v1`).

    Layers (named NAME_...): `1_conv` (1x1, `filters`, carries the stride), `1_bn`, `1_relu`, `2_conv`
    (`kernel_size`, `filters`, padding same), `2_bn`, `2_relu`, `3_conv` (1x1, `expansion` x `filters`),
    `3_bn`, then `add` with the shortcut and the activation `out`. The shortcut is the input itself when
    its shape already matches, otherwise a projection: `0_conv` (1x1 with the stride) and `0_bn`.
    Convolutions have biases (`use_bias`), as in Keras' ResNet50.
    Output: (ceil(H/strides), ceil(W/strides), expansion*filters).
    """

    keras_name = "bottleneck"
    strided = True
    type: Literal["bottleneck"]
    filters: PositiveInt = Field(description="Width of the 1x1 and 3x3 convolutions inside the unit.")
    kernel_size: PositiveInt = Field(3, description="Kernel of the middle convolution.")
    strides: PositiveInt = Field(1, description="Stride of the first 1x1 convolution and of the projection.")
    expansion: PositiveInt = Field(4, description="Output channels are expansion x filters.")
    projection: Literal["auto", "always"] = Field(
        "auto", description="`auto`: a 1x1 projection only when the stride or the width changes.")
    activation: Activation = Field("relu", description="The activation inside the unit and after the addition.")
    use_bias: bool = Field(True, description="Add a learned bias to each output channel.")
    epsilon: float = Field(1.001e-5, gt=0, description="Batch norm epsilon.")
    momentum: float = Field(0.99, gt=0, lt=1, description="Batch norm momentum.")

    def expand(self, g, x):
        out_channels = self.expansion * self.filters
        bn = {"epsilon": self.epsilon, "momentum": self.momentum}
        shortcut = x
        if self.projection == "always" or self.strides != 1 or g.shape(x)[-1] != out_channels:
            shortcut = g.add("conv2d", "0_conv", x, filters=out_channels, kernel_size=1, strides=self.strides,
                             use_bias=self.use_bias)
            shortcut = g.add("batch_norm", "0_bn", shortcut, **bn)
        y = g.add("conv2d", "1_conv", x, filters=self.filters, kernel_size=1, strides=self.strides,
                  use_bias=self.use_bias)
        y = g.add("batch_norm", "1_bn", y, **bn)
        y = g.add("activation", "1_relu", y, activation=self.activation)
        y = g.add("conv2d", "2_conv", y, filters=self.filters, kernel_size=self.kernel_size, padding="same",
                  use_bias=self.use_bias)
        y = g.add("batch_norm", "2_bn", y, **bn)
        y = g.add("activation", "2_relu", y, activation=self.activation)
        y = g.add("conv2d", "3_conv", y, filters=out_channels, kernel_size=1, use_bias=self.use_bias)
        y = g.add("batch_norm", "3_bn", y, **bn)
        y = g.add("add", "add", [shortcut, y])
        return g.add("activation", "out", y, activation=self.activation)
