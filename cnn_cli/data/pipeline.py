"""tf.data input pipelines: uint8 images held once in memory, scaled to float32 [0, 1] a batch at a time.

TensorFlow and Keras are imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cnn_cli.config.data import Augment

if TYPE_CHECKING:
    import tensorflow as tf

ONE_HOT_LOSSES = frozenset({"categorical_crossentropy"})


def one_hot_for(loss: str) -> bool:
    """Whether the loss takes one-hot labels (categorical_crossentropy) rather than class indices."""
    return loss in ONE_HOT_LOSSES


def make_dataset(x_uint8: np.ndarray, y_idx: np.ndarray, *, batch_size: int, num_classes: int, one_hot: bool,
                 shuffle: bool, seed: int | None, augment: Augment | None, training: bool) -> tf.data.Dataset:
    """Batches of (float32 images in [0, 1], labels): int32 class indices, or float32 one-hot rows.

    Order: slices of the uint8 array -> shuffle (whole set, `seed`, reshuffled each epoch) -> batch -> /255
    -> one-hot -> augmentation (only when `training` and `augment` is given) -> prefetch.
    """
    import tensorflow as tf

    data = tf.data.Dataset.from_tensor_slices((np.asarray(x_uint8, dtype=np.uint8), np.asarray(y_idx, dtype=np.int32)))
    if shuffle:
        data = data.shuffle(len(x_uint8), seed=seed, reshuffle_each_iteration=True)
    data = data.batch(batch_size)

    def prepare(x, y):
        x = tf.cast(x, tf.float32) / 255.0
        return x, (tf.one_hot(y, num_classes, dtype=tf.float32) if one_hot else y)

    data = data.map(prepare, num_parallel_calls=tf.data.AUTOTUNE)
    layers = augmentation_layers(augment, seed) if training and augment is not None else []
    if layers:
        def distort(x, y):
            for layer in layers:
                x = layer(x, training=True)
            return x, y

        data = data.map(distort, num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


def augmentation_layers(augment: Augment, seed: int | None = None) -> list:
    """Keras preprocessing layers for the nonzero settings; empty space is filled with the nearest pixel
    (as Keras' old ImageDataGenerator did). Rotation is given in degrees (RandomRotation takes turns)."""
    import keras

    def next_seed(offset: int) -> int | None:
        return None if seed is None else seed + offset

    layers = []
    if augment.rotation:
        layers.append(keras.layers.RandomRotation(augment.rotation / 360.0, fill_mode="nearest", seed=next_seed(1)))
    if augment.zoom:
        layers.append(keras.layers.RandomZoom(augment.zoom, fill_mode="nearest", seed=next_seed(2)))
    if augment.width_shift or augment.height_shift:
        layers.append(keras.layers.RandomTranslation(
            augment.height_shift, augment.width_shift, fill_mode="nearest", seed=next_seed(3),
        ))
    flips = [name for name, on in (("horizontal", augment.horizontal_flip), ("vertical", augment.vertical_flip)) if on]
    if flips:
        layers.append(keras.layers.RandomFlip("_and_".join(flips), seed=next_seed(4)))
    return layers
