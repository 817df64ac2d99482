"""`add`, `multiply`, `concatenate`: merges of two or more earlier layers, named with `inputs:`."""

from __future__ import annotations

from typing import Literal

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, ShapeProblem


class _Merge(LayerSpec):
    min_inputs = 2
    max_inputs = 64

    def _check_count(self, inputs: list[Shape]) -> None:
        if len(inputs) < 2:
            raise ShapeProblem(f"{self.type} of two or more layers (name them with inputs: [a, b])", f"{len(inputs)} input")


class Add(_Merge):
    """Elementwise sum (keras.layers.Add) of inputs of one shape, e.g. a residual shortcut:
    `{type: add, inputs: [conv3_bn, shortcut_bn]}`. No params; MACs not counted (merges are 0)."""

    keras_name = "add"
    type: Literal["add"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        self._check_count(inputs)
        if any(shape != inputs[0] for shape in inputs):
            raise ShapeProblem("inputs of one shape", " and ".join(str(s) for s in inputs))
        return inputs[0]

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Add(name=name, dtype=ctx.dtype)(tensors)


class Multiply(_Merge):
    """Elementwise product (keras.layers.Multiply); sizes of 1 broadcast, so a (1, 1, C) gate scales a
    (H, W, C) map as squeeze-and-excitation does. No params; MACs not counted (merges are 0)."""

    keras_name = "multiply"
    type: Literal["multiply"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        self._check_count(inputs)
        if len({len(s) for s in inputs}) != 1:
            raise ShapeProblem("inputs of one rank", " and ".join(str(s) for s in inputs))
        out = []
        for dims in zip(*inputs):
            sizes = {d for d in dims if d != 1}
            if len(sizes) > 1:
                raise ShapeProblem("inputs of one shape (or size 1 where they differ)", " and ".join(str(s) for s in inputs))
            out.append(sizes.pop() if sizes else 1)
        return tuple(out)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Multiply(name=name, dtype=ctx.dtype)(tensors)


class Concatenate(_Merge):
    """Concatenation along the channels (keras.layers.Concatenate); all inputs have the same height and
    width. No params; MACs not counted (merges are 0)."""

    keras_name = "concatenate"
    type: Literal["concatenate"]

    def output_shape(self, inputs: list[Shape]) -> Shape:
        self._check_count(inputs)
        if any(len(s) != len(inputs[0]) or s[:-1] != inputs[0][:-1] for s in inputs):
            raise ShapeProblem("inputs of the same size but for the channels", " and ".join(str(s) for s in inputs))
        return inputs[0][:-1] + (sum(s[-1] for s in inputs),)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        return keras.layers.Concatenate(name=name, dtype=ctx.dtype)(tensors)
