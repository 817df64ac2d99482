"""The contract every layer kind follows: `LayerSpec` (a primitive: shape rule, cost, Keras builder) and
`Composite` (a block written as an expansion into other kinds).

A kind is a pydantic model with a `type: Literal["name"]` field, Keras' own argument names, and a docstring
that is its manual (`cnn layers NAME` prints it). Nothing here imports Keras: `build` imports it inside.
"""

from __future__ import annotations

import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

Shape = tuple[int, ...]
PositiveInt = Annotated[int, Field(gt=0)]
Size = Union[PositiveInt, tuple[PositiveInt, PositiveInt]]  # noqa: UP007 (a runtime alias)
Padding = Literal["same", "valid"]
Activation = Literal[
    "relu", "relu6", "leaky_relu", "elu", "selu", "gelu", "gelu_tanh", "silu", "swish", "mish",
    "sigmoid", "hard_sigmoid", "hard_silu", "hard_swish", "tanh", "softmax", "softplus", "softsign", "linear",
]
CUSTOM_ACTIVATIONS = {"gelu_tanh": "cnn>gelu_tanh"}
"""Activations Keras has as a function with an argument rather than a name: the tool's registered ones."""


def keras_activation(name: str | None):
    """What Keras takes for the activation `name` (its own name, or the tool's registered function)."""
    if name in CUSTOM_ACTIVATIONS:
        from cnn_cli.layers.custom.activations import gelu_tanh

        return gelu_tanh
    return name


def pair(size: int | tuple[int, int]) -> tuple[int, int]:
    """`3` -> `(3, 3)`; `(3, 5)` stays."""
    return (size, size) if isinstance(size, int) else tuple(size)


COPY_MARKS = ("{i}", "{i0}", "{a}")
"""Marks a repeated layer's `name` may hold: its copy's number from 1, from 0, or its letter (a, b, ...)."""


def copy_name(name: str, copy: int, repeat: int, start: int = 1, numbered: bool = False) -> str:
    """The name of copy `copy` (from 1) of `repeat` numbered from `start`: marks filled in ({i}: start,
    start+1, ...; {i0}: 0, 1, ...; {a}: a, b, ...), else NAME<start>..; NAME alone for one copy from 1 unless
    `numbered` (a computed or mapped `repeat:`, whose count may come out 1: its names keep their number)."""
    position = copy - 1
    if any(mark in name for mark in COPY_MARKS):
        letter = "abcdefghijklmnopqrstuvwxyz"[position % 26]
        return name.replace("{i0}", str(position)).replace("{i}", str(start + position)).replace("{a}", letter)
    return f"{name}{start + position}" if repeat > 1 or start != 1 or numbered else name


class Repeat(BaseModel):
    """`repeat:` as a mapping: how many copies, the first copy's number, which copy keeps `strides`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    count: Annotated[int, Field(ge=1)] = Field(description="How many copies.")
    start: Annotated[int, Field(ge=0)] = Field(1, description="The first copy's number ({i}, $i, NAME<start>).")
    strides: Literal["first", "last", "all"] = Field(
        "first", description="Which copy keeps `strides` (the others take 1): first (stage tables), last "
        "(pre-activation ResNets), all (each copy its own, as a table row computes it).")

    @field_validator("count", "start", mode="before")
    @classmethod
    def _no_numbers_as_text(cls, value: Any) -> Any:
        if _numeric_text(value):
            raise ValueError("expected a number, not a string (write it without quotes; an expression holds a $ "
                             "reference)")
        return value


def repeat_form(repeat: int | Repeat) -> Repeat:
    return repeat if isinstance(repeat, Repeat) else Repeat(count=repeat)


def _takes_text(annotation: Any) -> bool:
    """Whether a field of type `annotation` may hold a string (str, or a Literal of strings, in a union)."""
    if annotation is str:
        return True
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return any(isinstance(arg, str) for arg in typing.get_args(annotation))
    if origin is Annotated:
        return _takes_text(typing.get_args(annotation)[0])
    if origin in (Union, types.UnionType, list, tuple):
        return any(_takes_text(arg) for arg in typing.get_args(annotation) if arg is not Ellipsis)
    return annotation is Any

def _numeric_text(value: Any) -> bool:
    """A string that pydantic would take for a number ("16", "0.5"): refused where a number goes."""
    if not isinstance(value, str):
        return False
    try:
        float(value)
    except ValueError:
        return value.strip().lower() in ("true", "false", "yes", "no", "on", "off")
    return True


class ShapeProblem(Exception):
    """A kind cannot take its input; the graph turns it into a ConfigError with the layer's key path."""

    def __init__(self, expected: str, received: Any):
        super().__init__(expected)
        self.expected, self.received = expected, received


@dataclass(frozen=True)
class Cost:
    """Per example: all weights (`params`), the non-trainable part of them, multiply-accumulates."""

    params: int = 0
    non_trainable: int = 0
    macs: int = 0


@dataclass(frozen=True)
class BuildContext:
    """What a builder may need beyond its own arguments: the class count and the dtype override (float32
    for the model's last layer under mixed precision, else None)."""

    num_classes: int | None = None
    dtype: str | None = None
    head_activation: str = "softmax"  # what the last layer's `activation: auto` is (the task's)


class LayerSpec(BaseModel):
    """Base of every layer kind (see the module doc)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keras_name: ClassVar[str] = "layer"
    """Base of automatic names, as Keras names its layers (`conv2d`, `conv2d_1`, ...)."""
    custom_objects: ClassVar[tuple[str, ...]] = ()
    """Registered names (`cnn>MinPooling2D`) of custom Keras layers this kind builds (safe-mode allow-list)."""
    strided: ClassVar[bool] = False
    """True when the kind has `strides`; `repeat:` gives it only to the first copy."""
    min_inputs: ClassVar[int] = 1
    max_inputs: ClassVar[int] = 1

    name: str | None = Field(None, description="Layer name in the Keras model. Defaults to Keras' own naming.")
    inputs: list[str] | None = Field(
        None, min_length=1, description="Names of earlier layers this one takes. Defaults to the previous layer."
    )
    repeat: Annotated[int, Field(ge=1)] | Repeat = Field(1, description=(
        "Stack N copies, named NAME1..NAMEN (or NAME with {i}, {i0} or {a} filled in: 1.., 0.., a..); "
        "only the first keeps `strides`. Or {count: N, start: S, strides: first|last|all}: copies numbered from "
        "S, and which copy keeps `strides`. An expression in a computed layer (`ceil($params.depth * 3)`)."))

    @field_validator("*", mode="before")
    @classmethod
    def _no_numbers_as_text(cls, value: Any, info: ValidationInfo) -> Any:
        """A string where a number or a list is expected is refused (pydantic would read "16" as 16)."""
        field = cls.model_fields.get(info.field_name)
        if field is None or _takes_text(field.annotation):
            return value
        if _numeric_text(value) or (isinstance(value, (list, tuple)) and any(_numeric_text(v) for v in value)):
            raise ValueError("expected a number, not a string (write it without quotes; an expression holds a $ "
                             "reference)")
        return value


    @field_validator("name")
    @classmethod
    def _name_is_identifier(cls, value: str | None) -> str | None:
        plain = value
        for mark in COPY_MARKS:
            plain = plain.replace(mark, "a") if plain is not None else None
        if plain is not None and not plain.replace("_", "a").isalnum():
            raise ValueError("expected letters, digits and underscores (and {i}, {i0} or {a} in a repeated layer)")
        return value

    @classmethod
    def type_name(cls) -> str:
        return cls.model_fields["type"].annotation.__args__[0]

    def bind(self, num_classes: int | None) -> LayerSpec:
        """This spec with what the data decides filled in (`units: num_classes`); most kinds return self."""
        return self

    def output_shape(self, inputs: list[Shape]) -> Shape:
        raise NotImplementedError

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        """Weights and MACs; the default is none (pooling, dropout, reshapes...)."""
        return Cost()

    def build(self, tensors: list, name: str, ctx: BuildContext):
        """The output tensor (import keras inside this method)."""
        raise NotImplementedError


class Composite(LayerSpec):
    """A block: `expand(g, x)` adds named layers with `g.add(kind, suffix, inputs, **args)` and returns the
    reference of its output. Its shapes, costs, Keras layers and summary rows all come from the expansion."""

    def expand(self, g: Any, x: Any) -> Any:
        raise NotImplementedError


# -- shape helpers shared by the kinds ------------------------------------------------------------------


def single(kind: str, inputs: list[Shape]) -> Shape:
    if len(inputs) != 1:
        raise ShapeProblem(f"{kind} takes one input", f"{len(inputs)} inputs")
    return inputs[0]


def spatial(shape: Shape, what: str) -> Shape:
    if len(shape) != 3:
        raise ShapeProblem(f"{what} expects a 3-D (height, width, channels) input", f"shape {shape}")
    return shape


def out_size(size: int, window: int, stride: int, padding: str, dilation: int = 1) -> int:
    if padding == "same":
        return math.ceil(size / stride)
    span = dilation * (window - 1) + 1
    return (size - span) // stride + 1 if size >= span else 0


def window(shape: Shape, size, strides, padding: str, what: str, dilation=1) -> tuple[int, int]:
    """Output height and width of a sliding window; a window larger than a valid input is a ShapeProblem."""
    h, w, _ = spatial(shape, what)
    (kh, kw), (sh, sw), (dh, dw) = pair(size), pair(strides), pair(dilation)
    oh, ow = out_size(h, kh, sh, padding, dh), out_size(w, kw, sw, padding, dw)
    if oh < 1 or ow < 1:
        kh, kw = dh * (kh - 1) + 1, dw * (kw - 1) + 1
        raise ShapeProblem(
            f"a {kh}x{kw} window with padding '{padding}' needs an input of at least {kh}x{kw}", f"input of {h}x{w}"
        )
    return oh, ow


def elements(shape: Shape) -> int:
    return math.prod(shape)


class WindowedConv(LayerSpec):
    """What the convolution kinds share (`conv2d`, `depthwise_conv2d`, `separable_conv2d`): a kernel that
    slides with strides, padding and dilation, an optional activation and biases. Not a kind itself."""

    strided: ClassVar[bool] = True
    kernel_size: Size = Field(description="Height and width of the kernel.")
    strides: Size = Field(1, description="Step of the window over the input: one number or [height, width].")
    padding: Padding = Field("valid", description="valid: no padding, the output shrinks; same: zeros around the input keep its size at stride 1.")
    dilation_rate: Size = Field(1, description="Spacing between the kernel's taps: a 3x3 at rate 2 sees 5x5.")
    activation: Activation | None = Field(None, description="The activation applied to the output (not given: none, linear).")
    use_bias: bool = Field(True, description="Add a learned bias to each output channel.")

    def output_size(self, inputs: list[Shape]) -> tuple[Shape, int, int]:
        """(the input's shape, output height, output width)."""
        shape = single(self.type, inputs)
        oh, ow = window(shape, self.kernel_size, self.strides, self.padding, self.type, self.dilation_rate)
        return shape, oh, ow

    def window_arguments(self) -> dict[str, Any]:
        """The shared arguments as Keras' convolution layers take them."""
        return {"kernel_size": pair(self.kernel_size), "strides": pair(self.strides), "padding": self.padding,
                "dilation_rate": pair(self.dilation_rate), "activation": keras_activation(self.activation), "use_bias": self.use_bias}
