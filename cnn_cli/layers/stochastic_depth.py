"""`stochastic_depth`: drop path, the residual branch dropped for whole examples while training."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, single


class StochasticDepth(LayerSpec):
    """Drop path (the tool's serializable `cnn>StochasticDepth`): while training, each example's input is
    zeroed with probability `rate` and kept ones are scaled by 1/(1-rate); at inference it passes through.
    Put it on a residual branch before the `add`, as ConvNeXt and EfficientNet do. No params or MACs."""

    keras_name = "stochastic_depth"
    custom_objects = ("cnn>StochasticDepth",)
    type: Literal["stochastic_depth"]
    rate: float = Field(ge=0, lt=1, description="Probability of dropping the branch for an example.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return single(self.type, inputs)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        from cnn_cli.layers.custom.stochastic_depth import StochasticDepth as Layer

        return Layer(self.rate, name=name, dtype=ctx.dtype)(tensors[0])
