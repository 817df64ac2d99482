"""The `model` section: input shape, number of classes, the layers, and the user's named blocks.

A layer is one of the registered kinds (`cnn_cli.layers`), or a call of a block defined under `blocks:`
(`- {type: stage, filters: 64}`), whose parameters are checked when the graph is expanded.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field, field_validator

from cnn_cli.config.base import Section
from cnn_cli.layers.base import LayerSpec
from cnn_cli.layers.registry import layer_union, names

Dim = Annotated[int, Field(gt=0)]


class BlockCall(Section):
    """A use of a block from `model.blocks`: its parameters are the other keys."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(
        description="The name of a block defined under model.blocks.",
        json_schema_extra={"not": {"enum": names()}},  # so that editors tell a block call from a kind
    )
    name: str | None = None
    inputs: list[str] | None = Field(None, min_length=1)
    repeat: int = Field(1, ge=1)

    _name_is_identifier = field_validator("name")(LayerSpec._name_is_identifier.__func__)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


Layer = layer_union(fallback=BlockCall)


class BlockDef(Section):
    """A named, parametrized sub-graph: `params` (null = required) and `layers` that may use "$param"."""

    params: dict[str, Any] = Field(default_factory=dict, description="Parameters and their defaults (null: required).")
    layers: list[dict[str, Any]] = Field(min_length=1, description="The block's layers; `input` names its input.")


class ModelConfig(Section):
    input_shape: tuple[Dim, Dim, Dim] | None = Field(
        None, description="Height, width, channels. Defaults to the shape of the data."
    )
    num_classes: Annotated[int, Field(ge=2)] | None = Field(
        None, description="Number of classes. Defaults to the number found in the data."
    )
    blocks: dict[str, BlockDef] = Field(default_factory=dict, description="Named sub-graphs, used as layer types.")
    layers: list[Layer] = Field(min_length=1, description="The layers, input to output.")
