"""`separable_conv2d`: a depthwise convolution followed by a 1x1 (pointwise) convolution, in one layer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, Cost, PositiveInt, Shape, WindowedConv, pair


class SeparableConv2D(WindowedConv):
    """A depthwise-separable 2-D convolution (keras.layers.SeparableConv2D), as in Xception.

    Params: kh*kw*C*depth_multiplier (depthwise) + C*depth_multiplier*filters (pointwise), plus `filters`
    biases with `use_bias`. MACs: depthwise + pointwise, out_h*out_w*C*m*kh*kw + out_h*out_w*C*m*filters.
    """

    keras_name = "separable_conv2d"
    type: Literal["separable_conv2d"]
    filters: PositiveInt = Field(description="Number of output channels.")
    depth_multiplier: PositiveInt = Field(1, description="Output channels per input channel of the depthwise step.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        _, oh, ow = self.output_size(inputs)
        return (oh, ow, self.filters)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        kh, kw = pair(self.kernel_size)
        mid = inputs[0][2] * self.depth_multiplier
        positions = output[0] * output[1]
        params = kh * kw * mid + mid * self.filters + (self.filters if self.use_bias else 0)
        return Cost(params, 0, positions * mid * kh * kw + positions * mid * self.filters)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.SeparableConv2D(
            self.filters, **self.window_arguments(), depth_multiplier=self.depth_multiplier, name=name,
            dtype=ctx.dtype,
        )(tensors[0])
