"""The training data's order and the run's random streams as functions of (seed, epoch) alone.

tf.data's `shuffle(reshuffle_each_iteration=True)` draws each epoch's order from a generator that advances
once per epoch *in this process*, and Keras' dropout and augmentation layers draw from `SeedGenerator`s that
advance with every step: after a resume from epoch k, both would restart from their epoch-0 state, so a
resumed run would not see the data, masks and distortions an uninterrupted run sees. Here:

- `train_dataset`: epoch e's order is `argsort(stateless_uniform([n], seed=(seed, e)))`, computed when the
  epoch's iterator starts, from an epoch variable that `EpochSeeds` sets at the epoch's beginning; batches
  are gathered from the uint8 arrays, then scaled, one-hot encoded and augmented as in
  `cnn_cli.data.pipeline.make_dataset`;
- `EpochSeeds`: at every epoch's beginning sets that variable and resets the state of every
  `SeedGenerator` (the model's dropout layers, the augmentation layers, Keras' global one) to a value
  derived from (seed, epoch, its index).

With `train.deterministic` (TensorFlow's op determinism) the final weights of a run killed and resumed equal
those of an uninterrupted one, bit for bit (tests/test_crash_safety.py).
"""

from __future__ import annotations

import numpy as np

from cnn_cli.config.data import Augment
from cnn_cli.data.pipeline import augmentation_layers
from cnn_cli.tf_runtime import import_tensorflow

tf = import_tensorflow()
import keras  # noqa: E402


def derived_seed(*parts: int) -> int:
    """A 31-bit seed that depends on every part (and on nothing else)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0]) & 0x7FFFFFFF


class TrainData:
    """The training pipeline and what `EpochSeeds` needs of it (the epoch variable, the augmentation layers)."""

    def __init__(self, x_uint8: np.ndarray, y_idx: np.ndarray, *, batch_size: int, num_classes: int, one_hot: bool,
                 seed: int, augment: Augment | None, deterministic: bool):
        x = np.asarray(x_uint8, dtype=np.uint8)
        y = np.asarray(y_idx, dtype=np.int32)
        n = len(x)
        self.seed = int(seed)
        self.epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="cnn_epoch")
        self.layers = augmentation_layers(augment, seed) if augment is not None else []
        xs, ys = tf.constant(x), tf.constant(y)
        base = tf.constant(derived_seed(self.seed, 0x5EED), dtype=tf.int64)
        epoch = self.epoch

        def order(_):
            keys = tf.random.stateless_uniform([n], seed=tf.stack([base, epoch.read_value()]))
            return tf.argsort(keys, stable=True)

        def gather(idx):
            x = tf.cast(tf.gather(xs, idx), tf.float32) / 255.0
            y = tf.gather(ys, idx)
            return x, (tf.one_hot(y, num_classes, dtype=tf.float32) if one_hot else y)

        data = tf.data.Dataset.range(1).map(order).unbatch().batch(batch_size)
        data = data.map(gather, num_parallel_calls=tf.data.AUTOTUNE)
        if self.layers:
            layers = self.layers

            def distort(x, y):
                for layer in layers:
                    x = layer(x, training=True)
                return x, y

            # The augmentation layers draw from stateful generators: in order, one batch after another,
            # when the run must be repeatable.
            data = data.map(distort, num_parallel_calls=None if deterministic else tf.data.AUTOTUNE)
        batches = -(-n // batch_size)
        self.dataset = data.apply(tf.data.experimental.assert_cardinality(batches)).prefetch(tf.data.AUTOTUNE)


def _seed_generators(model, layers) -> list:
    from keras.src.random.seed_generator import SeedGenerator

    found: dict[int, SeedGenerator] = {}
    for layer in [*model._flatten_layers(include_self=True, recursive=True), *layers]:
        for gen in [*getattr(layer, "_seed_generators", []),
                    *(v for v in vars(layer).values() if isinstance(v, SeedGenerator))]:
            found.setdefault(id(gen), gen)
    try:
        from keras.src.random.seed_generator import global_seed_generator

        gen = global_seed_generator()
        found.setdefault(id(gen), gen)
    except Exception:  # a backend without a global generator: nothing to reset
        pass
    return list(found.values())


class EpochSeeds(keras.callbacks.Callback):
    """At each epoch's beginning: the data order's epoch, and every random generator's state, from (seed, epoch)."""

    def __init__(self, data: TrainData):
        super().__init__()
        self.data = data
        self._generators: list | None = None

    def on_epoch_begin(self, epoch, logs=None):
        self.data.epoch.assign(epoch)
        if self._generators is None:
            self._generators = _seed_generators(self.model, self.data.layers)
        for i, gen in enumerate(self._generators):
            state = np.array([derived_seed(self.data.seed, epoch, i + 1), 0])
            gen.state.assign(keras.ops.convert_to_tensor(state, dtype=gen.state.dtype))
