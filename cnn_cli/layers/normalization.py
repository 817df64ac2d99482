"""`normalization`: (x - mean) / sqrt(variance) per channel, with a fixed or an adapted mean and variance."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from cnn_cli.layers.base import BuildContext, Cost, LayerSpec, Shape, ShapeProblem, elements, single


class Normalization(LayerSpec):
    """Feature-wise normalization over the channels (keras.layers.Normalization).

    Either give `mean` and `variance` (numbers, or one per channel): Keras stores them as constants, no
    weights. Or set `adapt: true`: the mean and variance are computed from the training images before
    training and stored as 2C+1 non-trainable weights (mean, variance, count), as EfficientNet does.
    As a first layer it takes the pixels as they are (0..255) and the model adds no `input_scaling`.
    MACs: one per element, as batch norm.
    """

    keras_name = "normalization"
    type: Literal["normalization"]
    mean: float | list[float] | None = Field(None, description="Per-channel mean subtracted from the input (not given: learned by adapt).")
    variance: float | list[float] | None = Field(None, description="Variances (not standard deviations).")
    adapt: bool = Field(False, description="Compute mean and variance from the training data.")

    @model_validator(mode="after")
    def _either_fixed_or_adapted(self):
        if self.adapt == (self.mean is not None or self.variance is not None):
            raise ValueError("give either mean and variance, or adapt: true")
        if (self.mean is None) != (self.variance is None):
            raise ValueError("give both mean and variance")
        return self

    def output_shape(self, inputs: list[Shape]) -> Shape:
        shape = single(self.type, inputs)
        for key in ("mean", "variance"):
            value = getattr(self, key)
            if isinstance(value, list) and len(value) not in (1, shape[-1]):
                raise ShapeProblem(f"{key} with one value or one per channel ({shape[-1]})", f"{len(value)} values")
        return shape

    def cost(self, inputs: list[Shape], output: Shape) -> Cost:
        weights = 2 * output[-1] + 1 if self.adapt else 0
        return Cost(weights, weights, elements(output))

    def build(self, tensors: list, name: str, ctx: BuildContext):
        import keras

        mean, variance = self.mean, self.variance
        if isinstance(mean, list) or isinstance(variance, list):  # Keras wants both of one shape
            channels = tensors[0].shape[-1]
            mean, variance = (v * channels if isinstance(v, list) and len(v) == 1 else v if isinstance(v, list) else [v] * channels
                              for v in (mean, variance))
        return keras.layers.Normalization(axis=-1, mean=mean, variance=variance, name=name, dtype=ctx.dtype)(tensors[0])
