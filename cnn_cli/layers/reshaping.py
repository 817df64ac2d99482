"""`flatten`, `reshape` and `zero_padding2d`: layers that move elements around, with no weights."""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import Field

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, ShapeProblem, elements, single, spatial

Pad = Annotated[int, Field(ge=0)]


class Flatten(LayerSpec):
    """Flatten (keras.layers.Flatten): (H, W, C) -> (H*W*C,). No cost."""

    keras_name = "flatten"
    type: Literal["flatten"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        return (elements(single(self.type, inputs)),)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Flatten(name=name, dtype=ctx.dtype)(tensors[0])


class Reshape(LayerSpec):
    """Reshape (keras.layers.Reshape) to `target_shape` (without the batch axis; one entry may be -1).
    No cost."""

    keras_name = "reshape"
    type: Literal["reshape"]
    target_shape: list[Annotated[int, Field(ge=-1)]] = Field(min_length=1, description="The output's shape, without the batch dimension.")

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = single(self.type, inputs)
        total, target = elements(shape), list(self.target_shape)
        known = elements([d for d in target if d != -1])
        if target.count(-1) > 1 or 0 in target:
            raise ShapeProblem("target_shape with positive sizes and at most one -1", target)
        if -1 in target:
            if known == 0 or total % known:
                raise ShapeProblem(f"a target_shape that divides {total} elements", target)
            target[target.index(-1)] = total // known
        if elements(target) != total:
            raise ShapeProblem(f"a target_shape of {total} elements (the input is {shape})", target)
        return tuple(target)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Reshape(tuple(self.target_shape), name=name, dtype=ctx.dtype)(tensors[0])


class ZeroPadding2D(LayerSpec):
    """Zero padding (keras.layers.ZeroPadding2D): `padding` is n (all sides), [rows, cols], or
    [[top, bottom], [left, right]]. No cost."""

    keras_name = "zero_padding2d"
    type: Literal["zero_padding2d"]
    padding: Union[Pad, tuple[Pad, Pad], tuple[tuple[Pad, Pad], tuple[Pad, Pad]]] = Field(1, description="Rows and columns of zeros added: one number, [rows, columns], or [[top, bottom], [left, right]].")  # noqa: UP007

    def sides(self) -> tuple[tuple[int, int], tuple[int, int]]:
        p = self.padding
        if isinstance(p, int):
            return (p, p), (p, p)
        if isinstance(p[0], int):
            return (p[0], p[0]), (p[1], p[1])
        return tuple(p[0]), tuple(p[1])

    def output_shape(self, inputs: list[Shape]) -> Shape:
        h, w, c = spatial(single(self.type, inputs), self.type)
        (top, bottom), (left, right) = self.sides()
        return (h + top + bottom, w + left + right, c)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.ZeroPadding2D(self.sides(), name=name, dtype=ctx.dtype)(tensors[0])
