"""`dense_block`: a DenseNet dense block, each unit's output concatenated onto everything before it."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt


class DenseBlock(Composite):
    """A DenseNet dense block, as `keras.applications.DenseNet121` builds it (`dense_block`, `conv_block`).

    `blocks` units, named NAME_block1 .. NAME_blockN; unit i: `0_bn`, `0_relu`, `1_conv` (1x1,
    `bottleneck` x `growth_rate` filters), `1_bn`, `1_relu`, `2_conv` (3x3, `growth_rate` filters, padding
    same), then `concat` of the unit's input and its new channels. Convolutions have no bias.
    Output: (H, W, C + blocks x growth_rate).
    """

    keras_name = "dense_block"
    type: Literal["dense_block"]
    blocks: PositiveInt = Field(description="Number of units in the block.")
    growth_rate: PositiveInt = Field(32, description="Channels each unit adds.")
    bottleneck: PositiveInt = Field(4, description="The 1x1 convolution has bottleneck x growth_rate filters.")
    activation: Activation = Field("relu", description="The activation before each convolution of the block.")
    epsilon: float = Field(1.001e-5, gt=0, description="Batch norm epsilon.")
    momentum: float = Field(0.99, gt=0, lt=1, description="Batch norm momentum.")

    def expand(self, g, x):
        bn = {"epsilon": self.epsilon, "momentum": self.momentum}
        for i in range(1, self.blocks + 1):
            unit = f"block{i}"
            y = g.add("batch_norm", f"{unit}_0_bn", x, **bn)
            y = g.add("activation", f"{unit}_0_relu", y, activation=self.activation)
            y = g.add("conv2d", f"{unit}_1_conv", y, filters=self.bottleneck * self.growth_rate, kernel_size=1,
                      use_bias=False)
            y = g.add("batch_norm", f"{unit}_1_bn", y, **bn)
            y = g.add("activation", f"{unit}_1_relu", y, activation=self.activation)
            y = g.add("conv2d", f"{unit}_2_conv", y, filters=self.growth_rate, kernel_size=3, padding="same",
                      use_bias=False)
            x = g.add("concatenate", f"{unit}_concat", [x, y])
        return x
