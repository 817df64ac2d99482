"""`batch_norm`: batch normalization over the last axis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, Cost, LayerSpec, Shape, elements, single


class BatchNorm(LayerSpec):
    """Batch normalization (keras.layers.BatchNormalization) over the channels.

    Params: 4 per channel: gamma and beta (trainable), moving mean and variance (non-trainable).
    MACs: one per element (the inference form, a scale and a shift).
    """

    keras_name = "batch_normalization"
    type: Literal["batch_norm"]
    momentum: float = Field(0.99, gt=0, lt=1)
    epsilon: float = Field(0.001, gt=0)

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        channels = output[-1]
        return Cost(4 * channels, 2 * channels, elements(output))

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon, name=name, dtype=ctx.dtype)(tensors[0])
