"""`residual`: the basic ResNet unit (two 3x3 convolutions and a skip), as an expansion into primitives."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt, spatial


class Residual(Composite):
    """A ResNet residual unit: two 3x3 convs (no bias) with batch norm, and a skip connection.

    The skip is a 1x1 convolution (with batch norm) when the stride or the width changes.
    Layers: NAME_conv1, NAME_bn1, NAME_act1, NAME_conv2, NAME_bn2, [NAME_proj, NAME_proj_bn], NAME_add,
    NAME_out. Output: (ceil(H/strides), ceil(W/strides), filters).
    """

    keras_name = "residual"
    strided = True
    type: Literal["residual"]
    filters: PositiveInt = Field(description="Output channels of the unit's convolutions.")
    strides: PositiveInt = Field(1, description="Stride of the unit's first convolution (and of its shortcut's projection).")
    activation: Activation = Field("relu", description="The activation inside the unit and after the addition.")
    momentum: float = Field(0.99, gt=0, lt=1, description="Batch norm momentum (0.9 suits short runs: the moving "
                            "statistics follow the weights sooner).")
    epsilon: float = Field(0.001, gt=0, description="Batch norm epsilon.")

    def expand(self, g, x):
        spatial(g.shape(x), "residual")
        conv = {"filters": self.filters, "padding": "same", "use_bias": False}
        y = g.add("conv2d", "conv1", x, kernel_size=3, strides=self.strides, **conv)
        bn = {"momentum": self.momentum, "epsilon": self.epsilon}
        y = g.add("batch_norm", "bn1", y, **bn)
        y = g.add("activation", "act1", y, activation=self.activation)
        y = g.add("conv2d", "conv2", y, kernel_size=3, **conv)
        y = g.add("batch_norm", "bn2", y, **bn)
        shortcut = x
        if self.strides != 1 or g.shape(x)[-1] != self.filters:
            shortcut = g.add("conv2d", "proj", x, kernel_size=1, strides=self.strides, **conv)
            shortcut = g.add("batch_norm", "proj_bn", shortcut, **bn)
        y = g.add("add", "add", [y, shortcut])
        return g.add("activation", "out", y, activation=self.activation)
