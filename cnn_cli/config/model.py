"""The `model` section: input shape, number of classes, the layers, the user's named blocks, and where the
model starts: its pixel preprocessing (`preprocess`), its starting weights (`weights`) and, for the twins of
`keras.applications` in configs/applications/, which architecture it is (`architecture`).

A layer is one of the registered kinds (`cnn_cli.layers`), or a call of a block defined under `blocks:`
(`- {type: stage, filters: 64}`), whose parameters are checked when the graph is expanded. A layer whose
values are computed (an expression with a `$` reference, `when:`, `output:`, a `repeat:` that is not a
number, `num_classes` where a number goes) is kept as written (`Computed`) and validated, copy by copy, once
the graph knows its values (`cnn_cli.model.graph`): docs/language.md.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar, Literal

from pydantic import ConfigDict, Field, field_validator

from cnn_cli.config.section import Section
from cnn_cli.expressions import is_expression
from cnn_cli.layers.base import LayerSpec, Repeat
from cnn_cli.layers.registry import layer_union, names

Dim = Annotated[int, Field(gt=0)]
Preprocess = Literal["unit", "tf", "torch", "caffe", "none"]
Architecture = Literal["resnet50", "resnet101", "resnet152", "mobilenet_v2", "densenet121", "efficientnet_b0",
                       "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "convnext_tiny", "inception_v3",
                       "mobilenet_v3_large", "mobilenet_v3_small"]
IMAGENET = "imagenet"
WEIGHTS_SUFFIXES = (".weights.h5", ".h5", ".keras")


class BlockCall(Section):
    """A use of a block from `model.blocks`: its parameters are the other keys."""

    model_config = ConfigDict(extra="allow", frozen=True)

    type: str = Field(
        description="The name of a block defined under model.blocks.",
        json_schema_extra={"not": {"enum": names()}},  # so that editors tell a block call from a kind
    )
    name: str | None = None
    inputs: list[str] | None = Field(None, min_length=1)
    repeat: Annotated[int, Field(ge=1)] | Repeat = 1

    _name_is_identifier = field_validator("name")(LayerSpec._name_is_identifier.__func__)

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


COUNTS = ("num_classes", "num_targets")
OWN_KEYS = ("when", "output")
"""Keys of a computed layer that are the graph's, not the kind's: `when:` (left out when false) and `output:`
(inside a block: this layer's output carries the call's name)."""


def computed(raw: dict) -> bool:
    """Whether a layer as written waits for the graph: an expression anywhere, `when:`/`output:`, a `repeat:`
    that is not a number, or `num_classes`/`num_targets` anywhere but dense's `units`."""
    if any(key in raw for key in OWN_KEYS) or isinstance(raw.get("repeat"), str):
        return True
    return any(_holds(value, key == "units" and raw.get("type") == "dense") for key, value in raw.items())


def _holds(value: Any, counts_allowed: bool) -> bool:
    if isinstance(value, str):
        return is_expression(value) or (value in COUNTS and not counts_allowed)
    if isinstance(value, dict):
        return any(_holds(v, False) for v in value.values())
    if isinstance(value, list):
        return any(_holds(v, False) for v in value)
    return False


class Computed(Section):
    """A layer or block call whose values are computed (see `computed`), kept as written: the graph computes
    its values and validates it as its kind, for each copy (docs/language.md)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    deferred: ClassVar[bool] = True

    type: str = Field(description="A layer kind, a block of model.blocks, or an expression naming one.")
    name: str | None = None
    inputs: list[str] | None = Field(None, min_length=1)
    repeat: Any = Field(1, description="A number, an expression, or {count, start, strides}.")
    when: Any = Field(None, description="An expression: the layer is left out (its input passes on) when false.")

    @property
    def raw(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True)


Layer = layer_union(fallback=BlockCall, deferred=(Computed, computed))

RESERVED = ("params", "in", "i", "i0", "n", "num_classes", "num_targets")
"""Names an expression has already: a block parameter may not take one."""


class BlockDef(Section):
    """A named, parametrized sub-graph: `params` (null = required) and `layers` that may use "$param"."""

    params: dict[str, Any] = Field(default_factory=dict, description="Parameters and their defaults (null: required; "
                                   "an expression: computed from the call's values, in order).")
    layers: list[dict[str, Any]] = Field(min_length=1, description="The block's layers; `input` names its input.")

    @field_validator("params")
    @classmethod
    def _not_reserved(cls, value: dict[str, Any]) -> dict[str, Any]:
        for key in value:
            if key in RESERVED or not key.isidentifier():
                raise ValueError(f"a parameter name is an identifier other than {', '.join(RESERVED)}; received {key!r}")
        return value


class ModelConfig(Section):
    input_shape: tuple[Dim, Dim, Dim] | None = Field(
        None, description="Height, width, channels. Defaults to the shape of the data."
    )
    num_classes: Annotated[int, Field(ge=1)] | None = Field(
        None, description="Number of classes (classification: 2 or more), or of labels (multilabel). Defaults to "
        "the number found in the data."
    )
    num_targets: Annotated[int, Field(ge=1)] | None = Field(
        None, description="regression: the number of targets (numbers per image). Defaults to the number in the data."
    )
    params: dict[str, Any] = Field(
        default_factory=dict, description="The model's own values, `$params.NAME` in every expression (a family's "
        "width and depth multipliers, a stage table): `--set model.params.width=1.1` makes another member.")
    blocks: dict[str, BlockDef] = Field(default_factory=dict, description="Named sub-graphs, used as layer types.")
    layers: list[Layer] = Field(min_length=1, description="The layers, input to output.")
    preprocess: Preprocess = Field(
        "unit",
        description="What the model's first layer, input_scaling, does to the pixels (0..255): unit = x/255; "
        "tf = x/127.5 - 1; torch = x/255, then minus the ImageNet mean and over its standard deviation per "
        "channel; caffe = RGB to BGR, then minus the ImageNet mean per channel; none = pixels as they are. "
        "The families of keras.applications' preprocess_input. A first layer `rescaling` or `normalization` "
        "scales the pixels itself: then unit and none add nothing.",
    )
    architecture: Architecture | None = Field(
        None,
        description="The keras.applications architecture this config builds layer for layer (the configs of "
        "configs/applications/): says which ImageNet weights file `weights: imagenet` fetches.",
    )
    weights: str | None = Field(
        None,
        description="Starting weights for a new run: `imagenet` (Keras' published ImageNet file for "
        "`architecture`, without its classifier, fetched once into Keras' cache) or a path: a .weights.h5 or "
        "legacy .h5 weights file, a .keras model, or a run directory of this tool. Layers take the weights of "
        "the layer of the same name with the same shapes; the others (the classifier) start new. A resumed "
        "run never reloads them.",
    )

    @field_validator("weights")
    @classmethod
    def _weights_given(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            raise ValueError(f"expected {IMAGENET} or a path (a {', '.join(WEIGHTS_SUFFIXES)} file or a run directory)")
        return value
