"""The one input pipeline: the uint8 images held once in memory, batches of float32 pixels 0..255 and
labels (int32 class indices, or float32 one-hot rows). Pixel scaling is the model's first layer
(docs/architecture.md); nothing here divides by 255.

- `TrainingBatches`: epoch e's order is `argsort(stateless_uniform([n], seed=(seed, e)))`, drawn when the
  epoch's iterator starts from an epoch variable set by `set_epoch` (the trainer's `EpochSeeds` callback),
  so a resumed run sees the order an uninterrupted one sees; augmentation (`augment:`) on these batches only.
  With `class_weights` (one per class) the batches carry sample weights, `class_weights[label]`: Keras takes no
  `class_weight` for dataset inputs, sample weights work on every backend. Mixing (mixup, cutmix) comes last,
  on one-hot targets; with both, each batch takes one of them, drawn from (seed, epoch, batch).
- `eval_batches`: validation, test and evaluation batches, in file order, never augmented.

tf.data is reached through the backend boundary (`cnn_cli.backends`); importing this module stays cheap.
"""

from __future__ import annotations

import numpy as np

from cnn_cli.backends import current as backend
from cnn_cli.config.data import Augment

ONE_HOT_LOSSES = frozenset({"categorical_crossentropy"})


def one_hot_for(loss: str) -> bool:
    """Whether the loss takes one-hot labels (categorical_crossentropy) rather than class indices."""
    return loss in ONE_HOT_LOSSES


def derived_seed(*parts: int) -> int:
    """A 31-bit seed that depends on every part (and on nothing else)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0]) & 0x7FFFFFFF


def _labels(tf, num_classes: int, one_hot: bool):
    def label(y):
        return tf.one_hot(y, num_classes, dtype=tf.float32) if one_hot else y

    return label


def eval_batches(x_uint8: np.ndarray, y_idx: np.ndarray, *, batch_size: int, num_classes: int, one_hot: bool):
    """Batches in file order, for validation, test and evaluation."""
    tf = backend().start()
    label = _labels(tf, num_classes, one_hot)
    data = tf.data.Dataset.from_tensor_slices((np.asarray(x_uint8, dtype=np.uint8), np.asarray(y_idx, dtype=np.int32)))
    data = data.batch(batch_size).map(lambda x, y: (tf.cast(x, tf.float32), label(y)),
                                      num_parallel_calls=tf.data.AUTOTUNE)
    return data.prefetch(tf.data.AUTOTUNE)


class TrainingBatches:
    """The training batches (`dataset`), their epoch (`set_epoch`) and augmentation layers (`random_layers`,
    whose random state the trainer resets per epoch with the model's)."""

    def __init__(self, x_uint8: np.ndarray, y_idx: np.ndarray, *, batch_size: int, num_classes: int,
                 one_hot: bool, seed: int, augment: Augment | None = None, in_order: bool = False,
                 class_weights: np.ndarray | None = None):
        """`in_order`: augment one batch after another (the layers' generators are stateful), for repeatable runs."""
        from cnn_cli.data.batch_augment import image_layers, mixing_layers

        tf = backend().start()
        n = len(x_uint8)
        self.seed = int(seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="cnn_epoch")
        self.random_layers = (augmentation_layers(augment, seed) + image_layers(augment, x_uint8.shape[1:], seed)
                              if augment is not None else [])
        mixers = mixing_layers(augment, seed) if augment is not None else []
        if mixers and not one_hot:
            raise ValueError("mixup and cutmix need one-hot targets")
        weights = None if class_weights is None else tf.constant(np.asarray(class_weights, dtype=np.float32))
        xs = tf.constant(np.asarray(x_uint8, dtype=np.uint8))
        ys = tf.constant(np.asarray(y_idx, dtype=np.int32))
        base = tf.constant(derived_seed(self.seed, 0x5EED), dtype=tf.int64)
        epoch, label = self.epoch, _labels(tf, num_classes, one_hot)

        def order(_):
            keys = tf.random.stateless_uniform([n], seed=tf.stack([base, epoch.read_value()]))
            return tf.argsort(keys, stable=True)

        def gather(idx):
            y = tf.gather(ys, idx)
            if weights is None:
                return tf.cast(tf.gather(xs, idx), tf.float32), label(y)
            return tf.cast(tf.gather(xs, idx), tf.float32), label(y), tf.gather(weights, y)

        data = tf.data.Dataset.range(1).map(order).unbatch().batch(batch_size)
        data = data.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        if self.random_layers:
            layers = self.random_layers

            def distort(x, y, *w):
                for layer in layers:
                    x = layer(x, training=True)
                return (x, y, *w)

            data = data.map(distort, num_parallel_calls=None if in_order else tf.data.AUTOTUNE)
        if mixers:
            self.random_layers = [*self.random_layers, *mixers]
            data = _mixed(tf, data.enumerate(), mixers, derived_seed(self.seed, 0x313), epoch, in_order)
        batches = -(-n // batch_size)
        self.dataset = data.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)

    def set_epoch(self, epoch: int) -> None:
        """The epoch (0-based) whose order the next iteration draws."""
        self.epoch.assign(epoch)


def _mixed(tf, numbered, mixers: list, seed: int, epoch, in_order: bool):
    """The batches through mixup or cutmix; with both, batch b of epoch e takes one by a draw from (seed, e, b)."""
    from cnn_cli.data.batch_augment import mix

    def one(number, batch):  # Dataset.enumerate: (batch number, the batch)
        x, y, *w = batch
        if len(mixers) == 1:
            x, y = mix(mixers[0], x, y)
        else:
            coin = tf.random.stateless_uniform([], seed=tf.stack([tf.constant(seed, tf.int64), epoch.read_value() * 1_000_003 + number]))
            x, y = tf.cond(coin < 0.5, lambda: mix(mixers[0], x, y), lambda: mix(mixers[1], x, y))
        return (x, y, *w)

    return numbered.map(one, num_parallel_calls=None if in_order else tf.data.AUTOTUNE)


def augmentation_layers(augment: Augment, seed: int | None = None) -> list:
    """Keras preprocessing layers for the nonzero settings; empty space is filled with the nearest pixel
    (as Keras' old ImageDataGenerator did). Rotation is given in degrees (RandomRotation takes turns).
    They work on any pixel range, so on the 0..255 values fed here."""
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
