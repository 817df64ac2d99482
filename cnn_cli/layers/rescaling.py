"""`rescaling`: x * scale + offset, e.g. pixels 0..255 to 0..1 (`scale: 0.00392156862745098`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, single


class Rescaling(LayerSpec):
    """Rescaling (keras.layers.Rescaling): x * scale + offset, `scale` one number or one per channel.

    No params; MACs not counted (elementwise, as activations). As a first layer it replaces the model's
    automatic `input_scaling` (1/255): the layer then sees the pixels as they are, 0..255.
    """

    keras_name = "rescaling"
    type: Literal["rescaling"]
    scale: float | list[float] = Field(description="Multiplier of the input values.")
    offset: float | list[float] = Field(0.0, description="Added to the input values after scaling.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Rescaling(self.scale, self.offset, name=name, dtype=ctx.dtype)(tensors[0])
