"""`inception`: the GoogLeNet inception module, as an expansion into conv2d, max_pool2d and concatenate."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt


class Inception(Composite):
    """A GoogLeNet inception module: 1x1, 1x1->3x3, 1x1->5x5 and 3x3 max pool->1x1 branches (all padding
    'same', stride 1, with biases and `activation`), concatenated along the channels.

    Layers: NAME_1x1, NAME_3x3_reduce, NAME_3x3, NAME_5x5_reduce, NAME_5x5, NAME_pool, NAME_pool_proj,
    NAME_concat. Output: (H, W, filters_1x1 + filters_3x3 + filters_5x5 + filters_pool_proj).
    """

    keras_name = "inception"
    type: Literal["inception"]
    filters_1x1: PositiveInt = Field(description="Filters of the 1x1 branch.")
    filters_3x3_reduce: PositiveInt = Field(description="Filters of the 1x1 convolution before the 3x3 branch.")
    filters_3x3: PositiveInt = Field(description="Filters of the 3x3 branch.")
    filters_5x5_reduce: PositiveInt = Field(description="Filters of the 1x1 convolution before the 5x5 branch.")
    filters_5x5: PositiveInt = Field(description="Filters of the 5x5 branch.")
    filters_pool_proj: PositiveInt = Field(description="Filters of the 1x1 convolution after the pooling branch.")
    activation: Activation = Field("relu", description="The activation after each convolution of the module.")

    def expand(self, g, x):
        conv = {"padding": "same", "activation": self.activation}
        b1 = g.add("conv2d", "1x1", x, filters=self.filters_1x1, kernel_size=1, **conv)
        b2 = g.add("conv2d", "3x3_reduce", x, filters=self.filters_3x3_reduce, kernel_size=1, **conv)
        b2 = g.add("conv2d", "3x3", b2, filters=self.filters_3x3, kernel_size=3, **conv)
        b3 = g.add("conv2d", "5x5_reduce", x, filters=self.filters_5x5_reduce, kernel_size=1, **conv)
        b3 = g.add("conv2d", "5x5", b3, filters=self.filters_5x5, kernel_size=5, **conv)
        b4 = g.add("max_pool2d", "pool", x, pool_size=3, strides=1, padding="same")
        b4 = g.add("conv2d", "pool_proj", b4, filters=self.filters_pool_proj, kernel_size=1, **conv)
        return g.add("concatenate", "concat", [b1, b2, b3, b4])
