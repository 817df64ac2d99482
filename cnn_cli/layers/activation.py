"""`activation`: an activation function as a layer of its own."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import Activation, BuildContext, LayerSpec, Shape, keras_activation, single


class ActivationLayer(LayerSpec):
    """An activation function (keras.layers.Activation). No params; MACs not counted."""

    keras_name = "activation"
    custom_objects = ("cnn>gelu_tanh",)
    type: Literal["activation"]
    activation: Activation = Field(description="The activation function.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Activation(keras_activation(self.activation), name=name, dtype=ctx.dtype)(tensors[0])
