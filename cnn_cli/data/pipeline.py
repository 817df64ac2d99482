"""The one input pipeline: batches of the uint8 images held once (`store`), gathered by index by a
`BatchSource` (`batches.py`), shown to Keras through one of two faces over that same source:
- `keras`: a `keras.utils.PyDataset` (`keras_face.py`), backend-neutral: every backend uses it by default;
- `tf.data`: a `tf.data.Dataset` of batch numbers mapped through the source (`tf.numpy_function`), prefetched,
  for runs under a `tf.distribute` strategy. TensorFlow is reached only through `cnn_cli.backends`, and only
  when this face is asked for.

Neither face copies the images: a batch is gathered when it is asked for. Pixels are float32 0..255 (the
model scales, docs/architecture.md); labels int32 class indices or float32 one-hot rows.

- `TrainingBatches`: the training split, epoch-seeded order (`set_epoch`, called by the trainer's
  `EpochSeeds` at each epoch's beginning), augmentation, optional per-example sample weights.
- `eval_batches`: validation, test and evaluation batches, in file order, never augmented.

Importing this module imports neither Keras nor TensorFlow.
"""

from __future__ import annotations

import os

import numpy as np

from cnn_cli.backends import current as backend
from cnn_cli.config.data import Augment
from cnn_cli.data.batch_augment import image_layers, mix, mixing_layers
from cnn_cli.data.batches import BatchSource, Shard, derived_seed, epoch_order, one_hot_for
from cnn_cli.data.sampling import draw_weights

__all__ = ["BatchSource", "TrainingBatches", "derived_seed", "epoch_order", "eval_batches", "face_for",
           "one_hot_for"]

FACES = ("keras", "tf.data")


def face_for(face: str | None = None) -> str:
    """The face to use: `face` when given, else `CNN_PIPELINE` (keras | tf.data), else keras.

    The PyDataset face is the default on TensorFlow too: measured against the tf.data face on the full
    Fashion-MNIST (2-core CPU, two alternating pairs) it trained as fast (3,510 and 2,405 images/s against
    3,715 and 2,219), and with 160x160 images the tf.data face's runtime kept about 370 MB more memory. The
    trainer asks for tf.data under a tf.distribute strategy, whose dataset distribution needs it."""
    face = face or os.environ.get("CNN_PIPELINE") or "keras"
    if face not in FACES:
        raise ValueError(f"unknown input pipeline face {face!r}; expected one of {', '.join(FACES)}")
    return face


def present(source: BatchSource, face: str | None = None, workers: int = 2):
    """What `model.fit`/`evaluate`/`predict` take for `source`: a tf.data.Dataset or a PyDataset."""
    if face_for(face) == "keras":
        from cnn_cli.data.keras_face import SourceBatches

        return SourceBatches(source, workers=workers, max_queue_size=PREFETCH)
    return _tf_dataset(source)


PREFETCH = 2  # batches made ahead, and made at once: bounded, so that large images cost a few batches of memory


def _tf_dataset(source: BatchSource):
    """Batch numbers mapped through the source; the batches wait in the prefetch queue as uint8 (when not
    augmented) and become float32 as they leave it."""

    tf = backend().start()
    h, w, c = source.image_shape
    rows = source.one_hot or source.labels.ndim == 2  # one-hot, multi-hot or numbers: float32 rows
    y_spec = tf.TensorSpec([None, source.num_classes if source.one_hot else source.labels.shape[-1]] if rows else [None],
                           tf.float32 if rows else tf.int32)
    specs = [tf.TensorSpec([None, h, w, c], tf.as_dtype(source.pixel_dtype)), y_spec]
    if source.weighted:
        specs.append(tf.TensorSpec([None], tf.float32))

    def fetch(i):
        parts = tf.numpy_function(lambda k: source.batch(int(k), compact=True), [i], [s.dtype for s in specs],
                                  stateful=False)
        return tuple(tf.ensure_shape(part, spec.shape) for part, spec in zip(parts, specs))

    def as_float(x, *rest):
        return (tf.cast(x, tf.float32), *rest)

    data = tf.data.Dataset.range(len(source)).map(fetch, num_parallel_calls=PREFETCH, deterministic=True)
    data = data.apply(tf.data.experimental.assert_cardinality(len(source))).prefetch(PREFETCH)
    return data.map(as_float)


def eval_batches(images: np.ndarray, labels: np.ndarray, *, batch_size: int, num_classes: int, one_hot: bool,
                 indices: np.ndarray | None = None, face: str | None = None, shard: Shard | None = None):
    """Batches of `images[indices]` (all images without `indices`) in order, for validation, test and evaluation;
    with a `shard`, this process's part of them (`Shard.eval_split`)."""
    if shard is not None:
        indices, batch_size = shard.eval_split(np.arange(len(images)) if indices is None else indices, batch_size)
    source = BatchSource(images, labels, indices, batch_size=batch_size, num_classes=num_classes, one_hot=one_hot)
    return present(source, face)


class TrainingBatches:
    """The training batches (`dataset`, what `fit` takes), their epoch (`set_epoch`), `seed` and `source`.

    `images`/`labels` are the whole store, `indices` the training split's positions in it (all without it);
    `shard`: this process's part of every batch under Keras' distribution engine (`batches.Shard`);
    `sample_weights` (float32, aligned with `indices`) or `class_weights` (one per class: Keras takes no
    `class_weight` for dataset inputs), both given to the `BatchSource`, make the batches (x, y, w); a mixed
    example (MixUp, CutMix) weighs as the mix of its classes. The `augment:` distortions of `augment.py`
    draw from per-batch seeds; the recipes' Keras layers (`batch_augment.py`: crop, RandAugment, erasing, then
    MixUp or CutMix on one-hot targets, one drawn per batch from (seed, epoch, batch)) are `random_layers`,
    whose generators the trainer resets per epoch; with them the batches are made one after another.
    `sampling` (`data.sampling`: balanced or sqrt) draws each epoch's examples by class or label frequency
    (`sampling.draw_weights`)."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, *, batch_size: int, num_classes: int,
                 one_hot: bool, seed: int, augment: Augment | None = None, in_order: bool = False,
                 indices: np.ndarray | None = None, sample_weights: np.ndarray | None = None,
                 class_weights: np.ndarray | None = None, sampling: str | None = None, face: str | None = None,
                 shard: Shard | None = None):
        del in_order  # the batches depend on (seed, epoch, batch), or are made in order (recipe layers)

        self.seed = int(seed)
        layers = image_layers(augment, images.shape[1:], seed) if augment is not None else []
        mixers = mixing_layers(augment, seed) if augment is not None else []
        if mixers and not one_hot and np.asarray(labels).ndim == 1:
            raise ValueError("mixup and cutmix need one-hot targets")
        self.random_layers = [*layers, *mixers]
        draws = None
        if sampling is not None:  # by the split's labels (class indices or multi-hot rows)
            split = np.asarray(labels)[np.arange(len(images)) if indices is None else np.asarray(indices)]
            draws = draw_weights(split, sampling)
        post = _RecipeLayers(layers, mixers, derived_seed(self.seed, 0x313)) if self.random_layers else None
        self.source = BatchSource(images, labels, indices, batch_size=batch_size, num_classes=num_classes,
                                  one_hot=one_hot, seed=self.seed, augment=augment, sample_weights=sample_weights,
                                  post=post, class_weights=class_weights, draw_weights=draws, shard=shard)
        self.dataset = present(self.source, face, workers=1 if post is not None else 2)

    def set_epoch(self, epoch: int) -> None:
        """The epoch (0-based) whose order the next iteration draws."""
        self.source.set_epoch(epoch)


class _RecipeLayers:
    """The recipes' Keras layers on a NumPy batch: image layers in order, then one mixing layer."""

    def __init__(self, layers: list, mixers: list, seed: int):
        self.layers, self.mixers, self.seed = layers, mixers, seed

    def __call__(self, x: np.ndarray, y: np.ndarray, epoch: int, index: int) -> tuple[np.ndarray, np.ndarray]:
        import keras


        for layer in self.layers:
            x = layer(x, training=True)
        if self.mixers:
            pick = 0 if len(self.mixers) == 1 else int(np.random.default_rng(
                derived_seed(self.seed, epoch, index)).random() >= 0.5)
            x, y = mix(self.mixers[pick], x, y)
        return (np.asarray(keras.ops.convert_to_numpy(x), dtype=np.float32),
                np.asarray(keras.ops.convert_to_numpy(y), dtype=np.float32 if y.ndim == 2 else np.int32))
