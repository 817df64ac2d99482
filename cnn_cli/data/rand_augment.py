"""RandAugment (Cubuk et al. 2020) from Keras' own image layers, with the paper's bounded magnitudes.

`keras.layers.RandAugment(factor=0.5)` hands the one `factor` to every layer, where it means different things:
RandomRotation turns by up to 0.5 of a full turn (180 degrees), RandomTranslation shifts by up to half the
side, RandomBrightness adds up to half the pixel range, and Solarization adds up to half the range before
inverting everything above a threshold drawn from 0..half the range. On 28x28 Fashion-MNIST most images came out
upside down, off the frame or inverted, and training collapsed (accuracy 0.21 against 0.71 without it). It also
computes all eleven operations for every batch and keeps two (2.3x slower).

Here each operation's magnitude is bounded as in the paper at strength 1 (rotation 30 degrees, shear 0.3,
translation 0.3 of the side, brightness 0.3 of the range, contrast, sharpness and colour 0.9, 4 to 7 bits kept
by posterization; all scaled by `factor`, the strength), solarization inverts only pixels brighter than
1 - factor/2 of the range, the colour operation is left out of
one-channel images, and only the operations drawn are computed: `num_ops` of them per batch (drawn from the
layer's seed generator, so that `EpochSeeds` makes them a function of the run's seed and epoch), each with its
own random strength per image.
"""

from __future__ import annotations

import keras

VALUE_RANGE = (0, 255)


class BoundedRandAugment(keras.layers.Layer):
    """`num_ops` operations drawn per batch from the RandAugment list, at strength `factor` (0..1)."""

    def __init__(self, num_ops: int, factor: float, channels: int = 3, seed: int | None = None, **kwargs):
        super().__init__(**kwargs)
        self.num_ops, self.factor, self.channels = int(num_ops), float(factor), int(channels)
        m, dtype = self.factor, kwargs.get("dtype")

        def at(offset: int) -> int | None:
            return None if seed is None else seed + offset

        ops = [
            keras.layers.RandomShear(x_factor=0.3 * m, y_factor=0.3 * m, seed=at(1), dtype=dtype),
            keras.layers.RandomTranslation(0.3 * m, 0.3 * m, seed=at(2), dtype=dtype),
            keras.layers.RandomRotation(30.0 * m / 360.0, seed=at(3), dtype=dtype),
            keras.layers.RandomBrightness(0.3 * m, value_range=VALUE_RANGE, seed=at(4), dtype=dtype),
            keras.layers.RandomContrast(0.9 * m, value_range=VALUE_RANGE, seed=at(5), dtype=dtype),
            keras.layers.RandomSharpness(0.9 * m, value_range=VALUE_RANGE, seed=at(6), dtype=dtype),
            # Keras draws the bits kept from [lower, upper): an int `factor` alone means 1..factor - 1 bits
            keras.layers.RandomPosterization((max(1, 8 - int(round(4 * m))), 8), value_range=VALUE_RANGE, seed=at(7),
                                             dtype=dtype),
            keras.layers.Solarization(threshold_factor=(1.0 - 0.5 * m, 1.0), value_range=VALUE_RANGE, seed=at(8),
                                      dtype=dtype),
            keras.layers.AutoContrast(value_range=VALUE_RANGE, dtype=dtype),
            keras.layers.Equalization(value_range=VALUE_RANGE, dtype=dtype),
        ]
        if self.channels == 3:
            ops.append(keras.layers.RandomColorDegeneration(0.9 * m, value_range=VALUE_RANGE, seed=at(9), dtype=dtype))
        self.ops = ops
        self.generator = keras.random.SeedGenerator(seed)

    def build(self, input_shape):
        for op in self.ops:
            op.build(input_shape)
        self.built = True

    def chosen(self) -> list[int]:
        """The operations of the next batch (indices into `ops`), drawn from the layer's generator."""
        drawn = keras.random.randint((self.num_ops,), 0, len(self.ops), seed=self.generator)
        return [int(i) for i in keras.ops.convert_to_numpy(drawn)]

    def call(self, images, training=True):
        if not training:
            return images
        for index in self.chosen():
            images = self.ops[index](images, training=True)
        return images

    def compute_output_shape(self, input_shape):
        return input_shape
