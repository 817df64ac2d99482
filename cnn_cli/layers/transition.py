"""`transition`: the DenseNet layer between dense blocks (compress the channels, halve the size)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, Composite, PositiveInt


class Transition(Composite):
    """A DenseNet transition, as `keras.applications.DenseNet121` builds it (`transition_block`).

    Layers (named NAME_...): `bn`, `relu`, `conv` (1x1, int(C x reduction) filters, no bias) and `pool`
    (average pooling, `pool_size` window and stride). Output: (H // pool_size, W // pool_size,
    int(C x reduction)).
    """

    keras_name = "transition"
    type: Literal["transition"]
    reduction: float = Field(0.5, gt=0, le=1, description="Compression: the fraction of channels kept.")
    pool_size: PositiveInt = Field(2, description="Size of the average-pooling window after the 1x1 convolution.")
    activation: Activation = Field("relu", description="The activation before the 1x1 convolution.")
    epsilon: float = Field(1.001e-5, gt=0, description="Batch norm epsilon.")
    momentum: float = Field(0.99, gt=0, lt=1, description="Batch norm momentum.")

    def expand(self, g, x):
        channels = g.shape(x)[-1]
        y = g.add("batch_norm", "bn", x, epsilon=self.epsilon, momentum=self.momentum)
        y = g.add("activation", "relu", y, activation=self.activation)
        y = g.add("conv2d", "conv", y, filters=max(1, int(channels * self.reduction)), kernel_size=1, use_bias=False)
        return g.add("avg_pool2d", "pool", y, pool_size=self.pool_size, strides=self.pool_size)
