"""`squeeze_excitation`: reweights the channels of a feature map by a gate computed from their means."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cnn_cli.layers.base import Activation, Composite, PositiveInt


class SqueezeExcitation(Composite):
    """A squeeze-and-excitation block (Hu et al.), written as EfficientNet writes it in Keras.

    Layers (named NAME_...): `squeeze` (global average pooling), `reshape` (to 1x1xC), `reduce` (1x1
    convolution to `filters` channels with `activation`), `expand` (1x1 convolution back to C channels with
    a sigmoid gate), `excite` (the input multiplied by the gate). Give the squeeze width either as
    `filters` or as `ratio` of the input channels (max(1, int(C x ratio))). Output: the input's shape.
    """

    keras_name = "squeeze_excitation"
    type: Literal["squeeze_excitation"]
    filters: PositiveInt | None = Field(None, description="Channels of the squeezed representation.")
    ratio: float | None = Field(None, gt=0, le=1, description="Squeezed channels as a fraction of the input's.")
    activation: Activation = Field("relu", description="The activation of the squeeze step (the excitation is a sigmoid).")
    gate: Activation = Field("sigmoid", description="Activation of the gate.")

    @model_validator(mode="after")
    def _one_width(self):
        if (self.filters is None) == (self.ratio is None):
            raise ValueError("give exactly one of filters and ratio")
        return self

    def expand(self, g, x):
        channels = g.shape(x)[-1]
        filters = self.filters if self.filters is not None else max(1, int(channels * self.ratio))
        return excite(g, x, filters, self.activation, self.gate, prefix="")


def excite(g, x, filters: int, activation: str, gate: str = "sigmoid", prefix: str = "se_"):
    """Adds the squeeze-excitation layers on `x` (names `{prefix}squeeze` ...) and returns the gated tensor;
    shared with `inverted_residual`, whose names carry the `se_` prefix inside the MBConv block."""
    channels = g.shape(x)[-1]
    s = g.add("global_avg_pool2d", f"{prefix}squeeze", x)
    s = g.add("reshape", f"{prefix}reshape", s, target_shape=[1, 1, channels])
    s = g.add("conv2d", f"{prefix}reduce", s, filters=filters, kernel_size=1, padding="same", activation=activation)
    s = g.add("conv2d", f"{prefix}expand", s, filters=channels, kernel_size=1, padding="same", activation=gate)
    return g.add("multiply", f"{prefix}excite", [x, s])
