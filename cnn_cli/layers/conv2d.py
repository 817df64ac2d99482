"""`conv2d`: a 2-D convolution."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cnn_cli.layers.base import BuildContext, Cost, PositiveInt, Shape, ShapeProblem, WindowedConv, pair

Initializer = Literal[
    "glorot_uniform", "glorot_normal", "he_uniform", "he_normal", "lecun_uniform", "lecun_normal",
    "orthogonal", "random_normal", "random_uniform", "truncated_normal", "zeros", "ones",
]


class Conv2D(WindowedConv):
    """A 2-D convolution (keras.layers.Conv2D).

    Params: kh*kw*(C/groups)*filters weights, plus `filters` biases with `use_bias`.
    MACs: out_h*out_w*filters*kh*kw*(C/groups). `dilation_rate` spreads the kernel (a 3x3 at rate 2 sees
    5x5); it cannot be combined with strides above 1. `groups` splits the channels into groups convolved
    apart (C and filters must both divide by it). `kernel_regularizer` is an L2 factor.
    """

    keras_name = "conv2d"
    type: Literal["conv2d"]
    filters: PositiveInt = Field(description="Number of output channels.")
    groups: PositiveInt = Field(1, description="Split the input channels into this many groups, convolved apart (C and filters must divide by it).")
    kernel_initializer: Initializer = Field("glorot_uniform", description="How the kernel's weights start (Keras' initializer names).")
    kernel_regularizer: float | None = Field(None, ge=0, description="L2 factor on the kernel.")

    @model_validator(mode="after")
    def _dilation_without_strides(self):
        if max(pair(self.dilation_rate)) > 1 and max(pair(self.strides)) > 1:
            raise ValueError("dilation_rate above 1 cannot be combined with strides above 1")
        return self

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape, oh, ow = self.output_size(inputs)
        if shape[2] % self.groups or self.filters % self.groups:
            raise ShapeProblem(f"input channels and filters divisible by groups = {self.groups}",
                               f"{shape[2]} channels, {self.filters} filters")
        return (oh, ow, self.filters)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        kh, kw = pair(self.kernel_size)
        per_group = inputs[0][2] // self.groups
        weights = kh * kw * per_group * self.filters
        return Cost(weights + (self.filters if self.use_bias else 0), 0, output[0] * output[1] * weights)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        regularizer = keras.regularizers.L2(self.kernel_regularizer) if self.kernel_regularizer else None
        return keras.layers.Conv2D(
            self.filters, **self.window_arguments(), groups=self.groups, kernel_initializer=self.kernel_initializer,
            kernel_regularizer=regularizer, name=name, dtype=ctx.dtype,
        )(tensors[0])
