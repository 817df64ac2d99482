"""`layer_normalization`: normalization of each position over its channels, as in ConvNeXt."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, Cost, LayerSpec, Shape, elements, single


class LayerNormalization(LayerSpec):
    """Layer normalization over the last axis (keras.layers.LayerNormalization).

    Params: 2 per channel (gamma and beta, trainable). MACs: one per element, as batch norm.
    """

    keras_name = "layer_normalization"
    type: Literal["layer_normalization"]
    epsilon: float = Field(0.001, gt=0, description="Small constant added to the variance, for numerical stability.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(2 * output[-1], 0, elements(output))

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.LayerNormalization(epsilon=self.epsilon, name=name, dtype=ctx.dtype)(tensors[0])
