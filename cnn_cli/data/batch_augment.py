"""The training recipes' augmentations of a batch, as Keras preprocessing layers (which run inside tf.data on
any backend): random crop with padding, colour (brightness, contrast, saturation, hue, grayscale), random
erasing, RandAugment (`rand_augment.py`: Keras' layers with bounded magnitudes) on the images; MixUp and CutMix on images
and one-hot targets together. Pixels are 0..255 here (the model scales them), so that is the value range
given to the layers that need one.

`image_layers` and `mixing_layers` make them from a `data.augment` section; each layer's random generator is
reset per epoch by the trainer (`training/epoch_seeds.py`), as the other augmentation layers' are.
"""

from __future__ import annotations

from cnn_cli.config.data import Augment

VALUE_RANGE = (0, 255)  # the pipeline's pixels (docs/architecture.md: pixel scaling lives inside the model)
DTYPE = "float32"  # the batches' type, whatever the run's mixed-precision policy (mixing weights need float32)


COLOUR_KEYS = ("saturation", "hue", "grayscale")  # augmentations that need three channels


def colour_layers(augment: Augment, seed: int | None = None) -> list:
    """Keras' own colour layers for `brightness`, `contrast`, `saturation`, `hue`, `grayscale` (those set)."""
    import keras

    def next_seed(offset: int) -> int | None:
        return None if seed is None else seed + offset

    layers = []
    if augment.brightness:
        layers.append(keras.layers.RandomBrightness(augment.brightness, value_range=VALUE_RANGE, seed=next_seed(21),
                                                    dtype=DTYPE))
    if augment.contrast:
        layers.append(keras.layers.RandomContrast(augment.contrast, value_range=VALUE_RANGE, seed=next_seed(22),
                                                  dtype=DTYPE))
    if augment.saturation:
        s = augment.saturation  # Keras' factor x scales saturation by x / (1 - x): 1 -+ s is x = (1 -+ s) / (2 -+ s)
        layers.append(keras.layers.RandomSaturation(((1 - s) / (2 - s), (1 + s) / (2 + s)), value_range=VALUE_RANGE,
                                                    seed=next_seed(23), dtype=DTYPE))
    if augment.hue:
        layers.append(keras.layers.RandomHue(augment.hue, value_range=VALUE_RANGE, seed=next_seed(24), dtype=DTYPE))
    if augment.grayscale:
        layers.append(keras.layers.RandomGrayscale(augment.grayscale, seed=next_seed(25), dtype=DTYPE))
    return layers


def image_layers(augment: Augment, image_shape: tuple[int, ...], seed: int | None = None) -> list:
    """Layers that change images only: crop with padding, the colour layers, RandAugment, random erasing (in that
    order)."""
    import keras

    def next_seed(offset: int) -> int | None:
        return None if seed is None else seed + offset

    layers = []
    if augment.crop_padding:
        height, width = image_shape[0], image_shape[1]
        # whole-pixel shifts of up to crop_padding (nearest interpolation): a random crop of the padded image
        layers.append(keras.layers.RandomTranslation(
            min(augment.crop_padding / height, 0.99), min(augment.crop_padding / width, 0.99),
            fill_mode=augment.crop_fill, interpolation="nearest", fill_value=0.0, seed=next_seed(11), dtype=DTYPE))
    layers += colour_layers(augment, seed)
    if augment.randaugment:
        from cnn_cli.data.rand_augment import BoundedRandAugment

        layers.append(BoundedRandAugment(augment.randaugment, augment.randaugment_factor, channels=image_shape[-1],
                                         seed=next_seed(12), dtype=DTYPE))
    if augment.random_erasing:
        p = augment.random_erasing
        layers.append(keras.layers.RandomErasing(factor=(p, p), scale=tuple(augment.erasing_scale),
                                                 value_range=VALUE_RANGE, seed=next_seed(13), dtype=DTYPE))
    return layers


def mixing_layers(augment: Augment, seed: int | None = None) -> list:
    """MixUp and CutMix (those set), each called on {"images": x, "labels": one-hot y}."""
    import keras

    layers = []
    if augment.mixup:
        layers.append(keras.layers.MixUp(alpha=augment.mixup, seed=None if seed is None else seed + 14, dtype=DTYPE))
    if augment.cutmix:
        layers.append(keras.layers.CutMix(factor=augment.cutmix, seed=None if seed is None else seed + 15, dtype=DTYPE))
    return layers


def mix(layer, images, labels):
    """One mixing layer on a batch: the mixed images and targets."""
    out = layer({"images": images, "labels": labels}, training=True)
    return out["images"], out["labels"]
