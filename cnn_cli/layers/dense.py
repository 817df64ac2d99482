"""`dense`: a fully connected layer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import (
    Activation,
    BuildContext,
    Cost,
    LayerSpec,
    PositiveInt,
    Shape,
    ShapeProblem,
    elements,
    keras_activation,
    single,
)


class Dense(LayerSpec):
    """A fully connected layer (keras.layers.Dense); `units: num_classes` takes the number of classes (or
    labels) from the data, `units: num_targets` a regression's number of targets. On a (H, W, C) input it applies to each position.

    Params: inputs*units weights, plus `units` biases with `use_bias`. MACs: inputs*units per position.
    """

    keras_name = "dense"
    type: Literal["dense"]
    units: PositiveInt | Literal["num_classes", "num_targets"] = Field(description="Number of outputs; num_classes (or num_targets) takes the number from the data.")
    activation: Activation | Literal["auto"] | None = Field(
        None, description="auto (the last layer only): the task's head activation, softmax for classification, "
        "sigmoid for multilabel, linear for regression.")
    use_bias: bool = Field(True, description="Add a learned bias to each output channel.")

    def bind(self, num_classes: int | None) -> Dense:
        if self.units not in ("num_classes", "num_targets"):
            return self
        if num_classes is None:
            raise ShapeProblem(f"units: {self.units} needs model.{self.units} or data to count them from", self.units)
        return self.model_copy(update={"units": num_classes})

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = single(self.type, inputs)
        return shape[:-1] + (self.units,)

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        cin = inputs[0][-1]
        params = cin * self.units + (self.units if self.use_bias else 0)
        return Cost(params, 0, elements(inputs[0][:-1]) * cin * self.units)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        activation = ctx.head_activation if self.activation == "auto" else keras_activation(self.activation)
        return keras.layers.Dense(self.units, activation=activation, use_bias=self.use_bias, name=name, dtype=ctx.dtype)(tensors[0])
