"""`depthwise_conv2d`: one kernel per input channel (times `depth_multiplier`), no mixing of channels."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, Cost, PositiveInt, Shape, WindowedConv, pair


class DepthwiseConv2D(WindowedConv):
    """A depthwise 2-D convolution (keras.layers.DepthwiseConv2D), as in MobileNet and EfficientNet.

    Output channels: C*depth_multiplier. Params: kh*kw*C*depth_multiplier, plus as many biases with
    `use_bias`. MACs: out_h*out_w*C*depth_multiplier*kh*kw.
    """

    keras_name = "depthwise_conv2d"
    type: Literal["depthwise_conv2d"]
    depth_multiplier: PositiveInt = Field(1, description="Output channels per input channel of the depthwise step.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape, oh, ow = self.output_size(inputs)
        return (oh, ow, shape[2] * self.depth_multiplier)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        kh, kw = pair(self.kernel_size)
        channels = output[2]
        return Cost(kh * kw * channels + (channels if self.use_bias else 0), 0, output[0] * output[1] * channels * kh * kw)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.DepthwiseConv2D(
            **self.window_arguments(), depth_multiplier=self.depth_multiplier, name=name, dtype=ctx.dtype,
        )(tensors[0])
