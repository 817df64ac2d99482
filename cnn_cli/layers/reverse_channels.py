"""`reverse_channels`: the channels in reverse order, RGB to BGR (the tool's serializable `cnn>ReverseChannels`)."""

from __future__ import annotations

from typing import Literal

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, single


class ReverseChannels(LayerSpec):
    """Reverses the order of the channels (the last axis): RGB becomes BGR, as caffe-style preprocessing
    (`model.preprocess: caffe`, which puts it before `input_scaling`) expects. Any input shape; the output
    has the same shape. No params; MACs not counted (a copy).
    """

    keras_name = "reverse_channels"
    custom_objects = ("cnn>ReverseChannels",)
    type: Literal["reverse_channels"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        from cnn_cli.layers.custom.reverse_channels import ReverseChannels as KerasReverseChannels

        return KerasReverseChannels(name=name, dtype=ctx.dtype)(tensors[0])
