"""`batch_norm`: batch normalization over the last axis."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, Cost, LayerSpec, Shape, elements, single


class BatchNorm(LayerSpec):
    """Batch normalization (keras.layers.BatchNormalization) over the channels.

    Params: per channel, gamma (with `scale`) and beta (with `center`), trainable, and the moving mean and
    variance, non-trainable: 4 per channel with both. MACs: one per element (the inference form, a scale and a
    shift). `scale: false` leaves gamma out (as Keras' MobileNetV3 and InceptionV3 do, where the next layer
    scales), `center: false` beta.
    """

    keras_name = "batch_normalization"
    type: Literal["batch_norm"]
    momentum: float = Field(0.99, gt=0, lt=1, description="Momentum of the moving mean and variance that inference uses.")
    epsilon: float = Field(0.001, gt=0, description="Small constant added to the variance, for numerical stability.")
    scale: bool = Field(True, description="Learn a factor per channel (gamma).")
    center: bool = Field(True, description="Learn an offset per channel (beta).")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        channels = output[-1]
        learned = (1 if self.scale else 0) + (1 if self.center else 0)
        return Cost((2 + learned) * channels, 2 * channels, elements(output))

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.BatchNormalization(momentum=self.momentum, epsilon=self.epsilon, scale=self.scale,
                                               center=self.center, name=name, dtype=ctx.dtype)(tensors[0])
