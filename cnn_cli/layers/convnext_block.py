"""`convnext_block`: the ConvNeXt block (7x7 depthwise, layer norm, pointwise MLP with GELU, layer scale,
drop path, skip connection)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt


class ConvNeXtBlock(Composite):
    """A ConvNeXt block, as `keras.applications.ConvNeXtTiny` builds it (`ConvNeXtBlock`).

    Layers (named NAME_...): `depthwise_conv` (a `kernel_size` convolution with one group per channel,
    padding same, with bias), `layernorm`, `pointwise_conv_1` (dense to `expansion` x C on every pixel),
    `gelu`, `pointwise_conv_2` (dense back to C), `layer_scale` (left out when `layer_scale_init_value` is
    0), then `stochastic_depth` (drop path) when `drop_path_rate` > 0, else the linear activation `identity`,
    as Keras names them, and `add` with the input. Output: the input's shape.
    """

    keras_name = "convnext_block"
    type: Literal["convnext_block"]
    kernel_size: PositiveInt = Field(7, description="Kernel of the depthwise convolution.")
    expansion: PositiveInt = Field(4, description="The MLP's hidden width is expansion x channels.")
    activation: Activation = Field("gelu", description="The activation between the block's two pointwise layers.")
    layer_scale_init_value: float = Field(1e-6, ge=0, description="Starting layer scale; 0 leaves it out.")
    drop_path_rate: float = Field(0.0, ge=0, lt=1, description="Drop path rate of the residual branch.")
    epsilon: float = Field(1e-6, gt=0, description="Layer norm epsilon.")

    def expand(self, g, x):
        channels = g.shape(x)[-1]
        y = g.add("conv2d", "depthwise_conv", x, filters=channels, kernel_size=self.kernel_size, padding="same",
                  groups=channels)
        y = g.add("layer_normalization", "layernorm", y, epsilon=self.epsilon)
        y = g.add("dense", "pointwise_conv_1", y, units=self.expansion * channels)
        y = g.add("activation", self.activation, y, activation=self.activation)
        y = g.add("dense", "pointwise_conv_2", y, units=channels)
        if self.layer_scale_init_value:
            y = g.add("layer_scale", "layer_scale", y, init_values=self.layer_scale_init_value)
        if self.drop_path_rate:
            y = g.add("stochastic_depth", "stochastic_depth", y, rate=self.drop_path_rate)
        else:
            y = g.add("activation", "identity", y, activation="linear")
        return g.add("add", "add", [x, y])
