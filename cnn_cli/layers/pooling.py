"""`max_pool2d`, `avg_pool2d`, `min_pool2d`: the largest, mean or smallest value of each window."""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, LayerSpec, Padding, Shape, Size, pair, single, window


class _Pool(LayerSpec):
    strided = True
    keras_class: ClassVar[str] = ""
    pool_size: Size = Field(2, description="Size of the pooling window: one number or [height, width].")
    strides: Size | None = Field(None, description="Defaults to `pool_size`.")
    padding: Padding = Field("valid", description="valid: no padding, the output shrinks; same: zeros around the input keep its size at stride 1.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = single(self.type, inputs)
        strides = self.strides if self.strides is not None else self.pool_size
        return (*window(shape, self.pool_size, strides, self.padding, self.type), shape[2])

    def _layer_class(self):
        import keras

        return getattr(keras.layers, self.keras_class)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        strides = pair(self.strides) if self.strides is not None else None
        cls = self._layer_class()
        return cls(pool_size=pair(self.pool_size), strides=strides, padding=self.padding, name=name, dtype=ctx.dtype)(tensors[0])


class MaxPool2D(_Pool):
    """Max pooling (keras.layers.MaxPooling2D). No params; MACs not counted (comparisons)."""

    keras_name = "max_pooling2d"
    keras_class = "MaxPooling2D"
    type: Literal["max_pool2d"]


class AvgPool2D(_Pool):
    """Average pooling (keras.layers.AveragePooling2D). No params; MACs not counted."""

    keras_name = "average_pooling2d"
    keras_class = "AveragePooling2D"
    type: Literal["avg_pool2d"]


class MinPool2D(_Pool):
    """Min pooling (not in Keras; the tool's serializable `cnn>MinPooling2D`). No params; MACs not counted.

    With padding 'same', windows that overlap the border take the minimum of the values inside the image.
    """

    keras_name = "min_pooling2d"
    custom_objects = ("cnn>MinPooling2D",)
    type: Literal["min_pool2d"]

    def _layer_class(self):
        from cnn_cli.layers.custom.min_pooling import MinPooling2D

        return MinPooling2D
