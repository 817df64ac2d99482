"""`channel_padding`: zero channels added to a tensor (the tool's serializable `cnn>ChannelPadding`)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from cnn_cli.layers.base import BuildContext, LayerSpec, Shape, ShapeProblem, single

Count = Annotated[int, Field(ge=0)]


class ChannelPadding(LayerSpec):
    """Zero channels added before and after the input's channels (the last axis): `channels: N` pads behind
    up to N channels (an error when the input has more); `before`/`after` give the counts. CIFAR ResNets'
    option-A shortcut: a strided 1x1 pooling, then the missing channels as zeros. No params; no MACs.
    """

    keras_name = "channel_padding"
    custom_objects = ("cnn>ChannelPadding",)
    type: Literal["channel_padding"]
    channels: Annotated[int, Field(gt=0)] | None = Field(None, description="Pad behind up to this many channels.")
    before: Count = Field(0, description="Zero channels in front.")
    after: Count = Field(0, description="Zero channels behind (with `channels`: computed).")

    @model_validator(mode="after")
    def _one_way(self):
        if self.channels is not None and self.after:
            raise ValueError("give channels (pad up to) or after (a count), not both")
        return self

    def sides(self, shape: Shape) -> tuple[int, int]:
        if self.channels is None:
            return self.before, self.after
        after = self.channels - self.before - shape[-1]
        if after < 0:
            raise ShapeProblem(f"an input of at most {self.channels - self.before} channels (channels: {self.channels}"
                               f", before: {self.before})", f"{shape[-1]} channels")
        return self.before, after

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = single(self.type, inputs)
        before, after = self.sides(shape)
        return (*shape[:-1], shape[-1] + before + after)

    def build(self, tensors: list, name: str, ctx: BuildContext):
        from cnn_cli.layers.custom.channel_padding import ChannelPadding as KerasChannelPadding

        before, after = self.sides(tuple(tensors[0].shape[1:]))
        return KerasChannelPadding(before, after, name=name, dtype=ctx.dtype)(tensors[0])
