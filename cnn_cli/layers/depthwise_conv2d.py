"""`depthwise_conv2d`: one kernel per input channel (times `depth_multiplier`), no mixing of channels."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import (
    Activation,
    BuildContext,
    Cost,
    LayerSpec,
    Padding,
    PositiveInt,
    Shape,
    Size,
    pair,
    single,
    window,
)


class DepthwiseConv2D(LayerSpec):
    """A depthwise 2-D convolution (keras.layers.DepthwiseConv2D), as in MobileNet and EfficientNet.

    Output channels: C*depth_multiplier. Params: kh*kw*C*depth_multiplier, plus as many biases with
    `use_bias`. MACs: out_h*out_w*C*depth_multiplier*kh*kw.
    """

    keras_name = "depthwise_conv2d"
    strided = True
    type: Literal["depthwise_conv2d"]
    kernel_size: Size = Field(description="Height and width of the kernel.")
    strides: Size = 1
    padding: Padding = "valid"
    depth_multiplier: PositiveInt = 1
    dilation_rate: Size = 1
    activation: Activation | None = None
    use_bias: bool = True

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = single("depthwise_conv2d", inputs)
        oh, ow = window(shape, self.kernel_size, self.strides, self.padding, "depthwise_conv2d", self.dilation_rate)
        return (oh, ow, shape[2] * self.depth_multiplier)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        kh, kw = pair(self.kernel_size)
        channels = output[2]
        return Cost(kh * kw * channels + (channels if self.use_bias else 0), 0, output[0] * output[1] * channels * kh * kw)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.DepthwiseConv2D(
            pair(self.kernel_size), strides=pair(self.strides), padding=self.padding,
            depth_multiplier=self.depth_multiplier, dilation_rate=pair(self.dilation_rate),
            activation=self.activation, use_bias=self.use_bias, name=name, dtype=ctx.dtype,
        )(tensors[0])
