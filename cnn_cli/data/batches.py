"""The one batch source under every input pipeline face: batches gathered by index from the images held
once (an in-memory array or the cache's memory map), in NumPy, importing no framework.

- `BatchSource(images, labels, indices, ...)`: `images` is the whole uint8 store (N, H, W, C), `labels` its
  int32 class indices (N,) or the task's float32 target rows (N, L) (multi-hot, standardised numbers), `indices` the positions of one split in it. `batch(i)` gathers batch i of the
  current epoch: float32 pixels 0..255 (never scaled: the model scales), labels as int32 indices or float32
  one-hot rows, and weights when given (then the batch is (x, y, w)): `sample_weights`, one per example of
  the split, or `class_weights`, one per class, read off each batch's targets (with one-hot targets the mix
  of a mixed one's classes, MixUp and CutMix included).
- With a `seed` the split is shuffled: epoch e's order is `epoch_order(n, seed, e)`, a function of
  (seed, e) alone, so a resumed run sees the order an uninterrupted one sees (with `draw_weights`,
  `data.sampling`'s probabilities, the epoch is n examples drawn with replacement, `epoch_draw`); augmentation
  (`cnn_cli.data.augment.augment_batch`) gets a seed derived from (seed, epoch, batch). Without a seed the
  batches come in file order, never augmented (validation, test, evaluation, prediction).

- `Shard(processes, index, replicas)`: under Keras' distribution engine (JAX's `data_parallel`), every global
  batch is split over `replicas` devices and each of `processes` processes feeds its own part. A training
  source with a shard gives batch i's part of process `index`, the global batch cut to a multiple of the
  replicas (the last batch of an epoch only: at most replicas - 1 examples of that epoch's order sit out);
  `Shard.eval_split` does the same for validation and test by their indices, exactly (no example left out).

`batch` is safe to call from several threads at once (the faces prefetch in worker threads).

- `SplitImages(images, indices)`: one split's images for the commands that read a split outside training
  (`cnn evaluate`, `cnn report`, `cnn export`'s check): indexed like an array (`x[i]`, `x[rows]`, `x[a:b]`),
  each index gathering only those images, and `chunks(rows)` for a pass over the whole split a chunk at a
  time; `chunk_rows` is how many images a chunk holds.
"""

from __future__ import annotations

import threading

import numpy as np

from cnn_cli.config.data import Augment
from cnn_cli.data.augment import augment_batch, is_active
from cnn_cli.tasks.classification import one_hot_for  # noqa: F401 (the classification task's, re-exported)

ORDER_SALT = 0x5EED


def derived_seed(*parts: int) -> int:
    """A 31-bit seed that depends on every part (and on nothing else)."""
    return int(np.random.SeedSequence([int(p) & 0xFFFFFFFF for p in parts]).generate_state(1)[0]) & 0x7FFFFFFF


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The shuffled order of n examples in epoch `epoch` (0-based): a permutation that depends on (seed, epoch)."""
    return np.random.default_rng(derived_seed(seed, ORDER_SALT, epoch)).permutation(n)


DRAW_SALT = 0x5A3F


def epoch_draw(weights: np.ndarray, seed: int, epoch: int) -> np.ndarray:
    """Positions 0..N-1 drawn N times with replacement by `weights` (probabilities, `data.sampling`'s), in
    epoch `epoch`: a function of (seed, epoch) alone."""
    rng = np.random.default_rng(derived_seed(seed, DRAW_SALT, epoch))
    return rng.choice(len(weights), size=len(weights), replace=True, p=weights)


def gather(images: np.ndarray, idx: np.ndarray, dtype=np.float32) -> np.ndarray:
    """images[idx] as `dtype`, read in increasing index order (sequential reads from a memory map)."""
    ascending = np.argsort(idx, kind="stable")
    out = np.empty((len(idx), *images.shape[1:]), dtype=dtype)
    out[ascending] = images[idx[ascending]]
    return out


CHUNK_BYTES = 64 << 20  # float32 pixels of one chunk of a pass over a split: few predict calls, bounded memory


def chunk_rows(image_shape: tuple[int, ...], batch: int) -> int:
    """Images per chunk: whole prediction batches, as many as fit in CHUNK_BYTES of float32 pixels (one batch
    at least)."""
    per_image = 4 * int(np.prod(image_shape))
    return max(1, CHUNK_BYTES // per_image // batch) * batch


class SplitImages:
    """`images[indices]` (uint8), gathered from the store only as indexed; see the module docstring."""

    def __init__(self, images: np.ndarray, indices: np.ndarray):
        self.images, self.indices = images, np.asarray(indices, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.indices), *self.images.shape[1:])

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, (int, np.integer)):
            return np.asarray(self.images[self.indices[key]])
        return gather(self.images, np.atleast_1d(self.indices[key]), np.uint8)

    def chunks(self, rows: int):
        """(start, images[start:start + rows]) over the split, in order."""
        for start in range(0, len(self), max(1, int(rows))):
            yield start, self[start:start + rows]


class Shard:
    """The part of every global batch one process feeds, and the devices it is split over (see the module's
    docstring)."""

    def __init__(self, processes: int, index: int, replicas: int):
        if replicas % processes or not 0 <= index < processes:
            raise ValueError(f"process {index} of {processes} over {replicas} replicas")
        self.processes, self.index, self.replicas = int(processes), int(index), int(replicas)

    def used(self, n: int, batch: int) -> int:
        """How many of `n` examples an epoch of global batches of `batch` trains on (the last batch cut to a
        multiple of the replicas)."""
        return n - (n % batch) % self.replicas

    def part(self, rows: np.ndarray) -> np.ndarray:
        """This process's part of one global batch's `rows` (its length a multiple of the replicas)."""
        share = len(rows) // self.processes
        return rows[self.index * share:(self.index + 1) * share]

    def eval_split(self, indices: np.ndarray, batch: int) -> tuple[np.ndarray, int]:
        """(this process's indices, its batch size) for evaluating `indices` in global batches of about `batch`.

        Every global batch must split evenly over the replicas: the batch is rounded up to a multiple of them,
        and when the split's length is not one, every example is repeated g = replicas / gcd(n, replicas)
        times -- the loss, accuracy and every mean Keras reports are then those of the split itself, exactly
        (each example weighs g times; the mean is unchanged), at g times the evaluation's work."""
        indices = np.asarray(indices, dtype=np.int64)
        g = self.replicas // np.gcd(len(indices), self.replicas)
        if g > 1:
            indices = np.repeat(indices, g)
        batch = -(-int(batch) // self.replicas) * self.replicas
        parts = [self.part(indices[start:start + batch]) for start in range(0, len(indices), batch)]
        local = np.concatenate(parts) if parts else indices[:0]
        return local, batch // self.processes


class BatchSource:
    """Batches of one split of the store; see the module docstring."""

    def __init__(self, images: np.ndarray, labels: np.ndarray, indices: np.ndarray | None = None, *,
                 batch_size: int, num_classes: int, one_hot: bool, seed: int | None = None,
                 augment: Augment | None = None, sample_weights: np.ndarray | None = None, post=None,
                 class_weights: np.ndarray | None = None, draw_weights: np.ndarray | None = None,
                 shard: Shard | None = None):
        self.images = images
        self.shard = shard
        labels = np.asarray(labels)  # rows (N, L): multi-hot or numbers, float32 targets as they are
        self.labels = labels.astype(np.float32) if labels.ndim == 2 else labels.astype(np.int32)
        self.indices = np.arange(len(images)) if indices is None else np.asarray(indices, dtype=np.int64)
        if len(self.labels) != len(images):
            raise ValueError(f"{len(self.labels)} labels for {len(images)} images")
        if sample_weights is not None and len(sample_weights) != len(self.indices):
            raise ValueError(f"{len(sample_weights)} sample weights for {len(self.indices)} examples")
        if sample_weights is not None and class_weights is not None:
            raise ValueError("sample weights or class weights, not both")
        self.batch_size, self.num_classes, self.one_hot = int(batch_size), int(num_classes), bool(one_hot)
        self.seed = None if seed is None else int(seed)
        self.augment = augment if self.seed is not None and is_active(augment) else None
        self.sample_weights = None if sample_weights is None else np.asarray(sample_weights, dtype=np.float32)
        self.post = post if self.seed is not None else None  # (x, y, epoch, batch) -> (x, y), after augment
        self.class_weights = None if class_weights is None else np.asarray(class_weights, dtype=np.float32)
        if draw_weights is not None and len(draw_weights) != len(self.indices):
            raise ValueError(f"{len(draw_weights)} draw weights for {len(self.indices)} examples")
        self.draw_weights = None if draw_weights is None or self.seed is None else np.asarray(draw_weights, np.float64)
        self.epoch = 0
        self._orders: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        n = len(self.indices) if self.shard is None else self.shard.used(len(self.indices), self.batch_size)
        return -(-n // self.batch_size)

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self.images.shape[1:])

    def set_epoch(self, epoch: int) -> None:
        """The epoch (0-based) whose order and augmentation the next batches have."""
        self.epoch = int(epoch)

    def order(self, epoch: int) -> np.ndarray:
        """Positions into `indices` in the order of `epoch` (file order without a seed)."""
        if self.seed is None:
            return np.arange(len(self.indices))
        with self._lock:
            found = self._orders.get(epoch)
            if found is None:
                found = (epoch_order(len(self.indices), self.seed, epoch) if self.draw_weights is None
                         else epoch_draw(self.draw_weights, self.seed, epoch))
                self._orders = {epoch: found}  # one epoch at a time: no growing memory
            return found

    @property
    def weighted(self) -> bool:
        """Whether the batches are (x, y, w)."""
        return self.sample_weights is not None or self.class_weights is not None

    @property
    def pixel_dtype(self):
        """The dtype `batch(..., compact=True)` gives pixels in: uint8, or float32 when augmented."""
        return np.float32 if self.augment is not None or self.post is not None else np.uint8

    def batch(self, i: int, epoch: int | None = None, compact: bool = False) -> tuple[np.ndarray, ...]:
        """Batch i of `epoch` (default: the current one): (x, y) or (x, y, w). `compact`: pixels in
        `pixel_dtype` (a quarter of the memory while a batch waits in a prefetch queue; cast to float32 later)."""
        epoch = self.epoch if epoch is None else epoch
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"batch {i} of {len(self)}")
        positions = self.order(epoch)[i * self.batch_size:(i + 1) * self.batch_size]
        draw = derived_seed(self.seed, epoch, i) if self.seed is not None else None
        if self.shard is not None:
            positions = self.shard.part(positions[:len(positions) - len(positions) % self.shard.replicas])
            if self.shard.processes > 1 and draw is not None:
                draw = derived_seed(self.seed, epoch, i, self.shard.index)  # each process its own distortions
        idx = self.indices[positions]
        x, y = gather(self.images, idx, self.pixel_dtype if compact else np.float32), self.labels[idx]
        if self.one_hot:
            y = np.eye(self.num_classes, dtype=np.float32)[y]
        if self.augment is not None:
            x, y = augment_batch(x, y, draw, self.augment, self.num_classes)
        if self.post is not None:
            x, y = self.post(x, y, epoch, i)
        if self.class_weights is not None:  # a one-hot target weighs as the mix of its classes
            return x, y, (np.asarray(y, dtype=np.float32) @ self.class_weights if self.one_hot
                          else self.class_weights[y])
        if self.sample_weights is None:
            return x, y
        return x, y, self.sample_weights[positions]
