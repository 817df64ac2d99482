"""`layer_scale`: a learned factor per channel (the tool's serializable `cnn>LayerScale`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, Cost, LayerSpec, Shape, elements, single


class LayerScale(LayerSpec):
    """Layer scale (not in Keras' public API; the tool's `cnn>LayerScale`), as in ConvNeXt: multiplies each
    channel by a learned factor that starts at `init_values`, so a residual branch starts near zero.

    Any input shape; the output has the same shape. Params: one per channel (the last axis), trainable.
    MACs: one per element.
    """

    keras_name = "layer_scale"
    custom_objects = ("cnn>LayerScale",)
    type: Literal["layer_scale"]
    init_values: float = Field(1e-6, description="Starting value of every factor.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        return Cost(output[-1], 0, elements(output))

    def build(self, tensors: list, name: str, ctx: BuildContext):
        from cnn_cli.layers.custom.layer_scale import LayerScale as KerasLayerScale

        return KerasLayerScale(self.init_values, name=name, dtype=ctx.dtype)(tensors[0])
