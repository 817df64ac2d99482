"""`dropout` and `spatial_dropout2d`: random zeroing while training."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, single, spatial


class Dropout(LayerSpec):
    """Dropout (keras.layers.Dropout): zeroes a fraction `rate` of the elements while training. No cost."""

    keras_name = "dropout"
    type: Literal["dropout"]
    rate: float = Field(ge=0, lt=1, description="Fraction of inputs dropped while training.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Dropout(self.rate, name=name, dtype=ctx.dtype)(tensors[0])


class SpatialDropout2D(LayerSpec):
    """Spatial dropout (keras.layers.SpatialDropout2D): drops whole channels of a (H, W, C) input. No cost."""

    keras_name = "spatial_dropout2d"
    type: Literal["spatial_dropout2d"]
    rate: float = Field(ge=0, lt=1, description="Fraction of channels dropped while training.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return spatial(single(self.type, inputs), self.type)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.SpatialDropout2D(self.rate, name=name, dtype=ctx.dtype)(tensors[0])
