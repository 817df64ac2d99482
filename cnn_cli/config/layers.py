"""The layer vocabulary: one schema per layer kind, with Keras' own argument names.

Each schema is registered under its `type`, the name a config uses (`- type: conv2d`).
Sizes may be written as one integer (`kernel_size: 3`) or a pair (`kernel_size: [3, 5]`).
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field, field_validator

from cnn_cli.config.base import Section

PositiveInt = Annotated[int, Field(gt=0)]
Size = Union[PositiveInt, tuple[PositiveInt, PositiveInt]]  # noqa: UP007 (a runtime alias)
Padding = Literal["same", "valid"]
Activation = Literal[
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "silu", "swish", "mish",
    "sigmoid", "hard_sigmoid", "tanh", "softmax", "softplus", "softsign", "linear",
]


def pair(size: int | tuple[int, int]) -> tuple[int, int]:
    """`3` -> `(3, 3)`; `(3, 5)` stays."""
    return (size, size) if isinstance(size, int) else tuple(size)


class LayerBase(Section):
    name: str | None = Field(None, description="Layer name in the Keras model. Defaults to Keras' own naming.")

    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str | None) -> str | None:
        if value is not None and not value.replace("_", "a").isalnum():
            raise ValueError("expected letters, digits and underscores")
        return value


class Conv2D(LayerBase):
    """A 2-D convolution."""

    type: Literal["conv2d"]
    filters: PositiveInt = Field(description="Number of output channels.")
    kernel_size: Size = Field(description="Height and width of the kernel.")
    strides: Size = 1
    padding: Padding = "valid"
    activation: Activation | None = None
    use_bias: bool = True


class _Pool(LayerBase):
    pool_size: Size = 2
    strides: Size | None = Field(None, description="Defaults to `pool_size`.")
    padding: Padding = "valid"


class MaxPool2D(_Pool):
    """Max pooling."""

    type: Literal["max_pool2d"]


class AvgPool2D(_Pool):
    """Average pooling."""

    type: Literal["avg_pool2d"]


class MinPool2D(_Pool):
    """Min pooling (not in Keras; provided by the tool as a serializable layer)."""

    type: Literal["min_pool2d"]


class GlobalMaxPool2D(LayerBase):
    type: Literal["global_max_pool2d"]


class GlobalAvgPool2D(LayerBase):
    type: Literal["global_avg_pool2d"]


class BatchNorm(LayerBase):
    type: Literal["batch_norm"]
    momentum: float = Field(0.99, gt=0, lt=1)
    epsilon: float = Field(0.001, gt=0)


class Dropout(LayerBase):
    type: Literal["dropout"]
    rate: float = Field(ge=0, lt=1, description="Fraction of inputs dropped while training.")


class Flatten(LayerBase):
    type: Literal["flatten"]


class Dense(LayerBase):
    """A fully connected layer; `units: num_classes` takes the number of classes from the data."""

    type: Literal["dense"]
    units: PositiveInt | Literal["num_classes"]
    activation: Activation | None = None
    use_bias: bool = True


class ActivationLayer(LayerBase):
    type: Literal["activation"]
    activation: Activation


class Inception(LayerBase):
    """A GoogLeNet inception module: 1x1, 1x1->3x3, 1x1->5x5 and pool->1x1 branches, concatenated."""

    type: Literal["inception"]
    filters_1x1: PositiveInt
    filters_3x3_reduce: PositiveInt
    filters_3x3: PositiveInt
    filters_5x5_reduce: PositiveInt
    filters_5x5: PositiveInt
    filters_pool_proj: PositiveInt
    activation: Activation = "relu"


class Residual(LayerBase):
    """A ResNet residual unit: two 3x3 convs with batch norm and a skip connection.

    The skip is a 1x1 convolution (with batch norm) when the stride or the width changes.
    """

    type: Literal["residual"]
    filters: PositiveInt
    strides: PositiveInt = 1
    activation: Activation = "relu"


LAYER_TYPES = (
    Conv2D, MaxPool2D, AvgPool2D, MinPool2D, GlobalMaxPool2D, GlobalAvgPool2D,
    BatchNorm, Dropout, Flatten, Dense, ActivationLayer, Inception, Residual,
)
LAYER_NAMES = sorted(t.model_fields["type"].annotation.__args__[0] for t in LAYER_TYPES)
BLOCK_TYPES = ("inception", "residual")

Layer = Annotated[Union[LAYER_TYPES], Field(discriminator="type")]  # type: ignore[valid-type]  # noqa: UP007
