"""`global_max_pool2d`, `global_avg_pool2d`: one value per channel, over the whole height and width."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, single, spatial


class GlobalMaxPool2D(LayerSpec):
    """Global max pooling (keras.layers.GlobalMaxPooling2D): (H, W, C) -> (C,). No params or MACs."""

    keras_name = "global_max_pooling2d"
    type: Literal["global_max_pool2d"]
    keepdims: bool = Field(False, description="Keep height and width as 1: (H, W, C) -> (1, 1, C).")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        channels = spatial(single(self.type, inputs), self.type)[2]
        return (1, 1, channels) if self.keepdims else (channels,)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.GlobalMaxPooling2D(keepdims=self.keepdims, name=name, dtype=ctx.dtype)(tensors[0])


class GlobalAvgPool2D(LayerSpec):
    """Global average pooling (keras.layers.GlobalAveragePooling2D): (H, W, C) -> (C,). No params or MACs."""

    keras_name = "global_average_pooling2d"
    type: Literal["global_avg_pool2d"]
    keepdims: bool = Field(False, description="Keep height and width as 1: (H, W, C) -> (1, 1, C).")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        channels = spatial(single(self.type, inputs), self.type)[2]
        return (1, 1, channels) if self.keepdims else (channels,)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.GlobalAveragePooling2D(keepdims=self.keepdims, name=name, dtype=ctx.dtype)(tensors[0])
