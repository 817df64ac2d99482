"""The `model` section: input shape, number of classes and the list of layers."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from cnn_cli.config.base import Section
from cnn_cli.config.layers import Layer

Dim = Annotated[int, Field(gt=0)]


class ModelConfig(Section):
    input_shape: tuple[Dim, Dim, Dim] | None = Field(
        None, description="Height, width, channels. Defaults to the shape of the data."
    )
    num_classes: Annotated[int, Field(ge=2)] | None = Field(
        None, description="Number of classes. Defaults to the number found in the data."
    )
    layers: list[Layer] = Field(min_length=1, description="The layers, input to output.")
